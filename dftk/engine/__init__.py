"""The one engine every command that runs plugins drives: the plugin contract and registry, the media pass,
file units, executors, and the engine that runs them into a sink. It knows nothing of SQLite."""
