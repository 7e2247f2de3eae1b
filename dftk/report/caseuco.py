"""CASE/UCO JSON-LD (the Cyber-investigation Analysis Standard Expression): the evidence, the examiner,
the tool, each run as an investigative action, and the files whose content hashes findings give.

Identifiers are UUIDv5 derived from the case content, so the same case gives the same graph.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from dftk.report import conventions

CONTEXT = {
    "kb": "http://example.org/kb/",
    "case-investigation": "https://ontology.caseontology.org/case/investigation/",
    "uco-action": "https://ontology.unifiedcyberontology.org/uco/action/",
    "uco-core": "https://ontology.unifiedcyberontology.org/uco/core/",
    "uco-identity": "https://ontology.unifiedcyberontology.org/uco/identity/",
    "uco-observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
    "uco-tool": "https://ontology.unifiedcyberontology.org/uco/tool/",
    "uco-types": "https://ontology.unifiedcyberontology.org/uco/types/",
    "uco-vocabulary": "https://ontology.unifiedcyberontology.org/uco/vocabulary/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
_NAMESPACE = uuid.UUID("6c1f7b0e-5d2a-4f3b-9a61-2b1d9e0c7a55")
_HASH_NAMES = {"md5": "MD5", "sha1": "SHA1", "sha256": "SHA256", "sha512": "SHA512"}


def _id(kind: str, *parts: object) -> str:
    return f"kb:{kind}-{uuid.uuid5(_NAMESPACE, '|'.join(map(str, parts)))}"


def _typed(kind: str, value: object) -> dict[str, str]:
    return {"@type": f"xsd:{kind}", "@value": str(value)}


def _hashes(data: dict[str, Any], owner: str) -> list[dict[str, Any]]:
    return [{"@id": _id("hash", owner, name), "@type": "uco-types:Hash",
             "uco-types:hashMethod": label,
             "uco-types:hashValue": _typed("hexBinary", data[name].upper())}
            for name, label in _HASH_NAMES.items() if isinstance(data.get(name), str)]


def _file(node_id: str, path: str, size: int | None, hashes: dict[str, Any]) -> dict[str, Any]:
    facets: list[dict[str, Any]] = [{
        "@id": _id("file-facet", node_id), "@type": "uco-observable:FileFacet",
        "uco-observable:fileName": path.rsplit("/", 1)[-1] or path, "uco-observable:filePath": path,
        **({"uco-observable:sizeInBytes": _typed("integer", size)} if size is not None else {}),
    }]
    hash_nodes = _hashes(hashes, node_id)
    if hash_nodes:
        facets.append({"@id": _id("content-facet", node_id), "@type": "uco-observable:ContentDataFacet",
                       "uco-observable:hash": hash_nodes})
    return {"@id": node_id, "@type": "uco-observable:File", "uco-core:hasFacet": facets}


def graph(head: dict[str, Any], findings: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The JSON-LD document for the report's header and its file-hash findings."""
    tool = {"@id": _id("tool", "dftk", head["tool"]["version"]), "@type": "uco-tool:Tool",
            "uco-core:name": "dftk", "uco-tool:version": head["tool"]["version"]}
    nodes: list[dict[str, Any]] = [tool]
    evidence_ids = {}
    for ev in head["evidence"]:
        node_id = _id("evidence", ev["path"], ev["size"])
        evidence_ids[ev["id"]] = node_id
        nodes.append(_file(node_id, ev["path"], ev["size"], ev["stored_hashes"]))
    results: dict[int, list[str]] = {}
    for finding in findings:
        subject = finding["subject"]
        if (subject.startswith("/") or subject == "evidence") and conventions.content_hashes(finding["data"]):
            node_id = _id("file", finding["evidence_id"], subject, finding["data"].get("sha256"))
            nodes.append(_file(node_id, subject, finding["data"].get("size"), finding["data"]))
            results.setdefault(finding["evidence_id"], []).append(node_id)
    actions = []
    for run in head["runs"]:
        examiner = {"@id": _id("identity", run["examiner"]), "@type": "uco-identity:Identity",
                    "uco-core:name": run["examiner"]}
        if examiner not in nodes:
            nodes.append(examiner)
        action: dict[str, Any] = {
            "@id": _id("action", head["case"]["name"], run["id"]), "@type": "case-investigation:InvestigativeAction",
            "uco-core:name": f"dftk run {run['id']}", "uco-core:description": run["command"],
            "uco-action:startTime": _typed("dateTime", run["started"]),
            "uco-action:performer": {"@id": examiner["@id"]}, "uco-action:instrument": {"@id": tool["@id"]},
            "uco-action:object": [{"@id": evidence_ids[run["evidence_id"]]}],
            "uco-action:result": [{"@id": r} for r in results.get(run["evidence_id"], [])],
        }
        if run["finished"]:
            action["uco-action:endTime"] = _typed("dateTime", run["finished"])
        actions.append(action)
    nodes.extend(actions)
    members = [{"@id": n["@id"]} for n in actions] + [{"@id": e} for e in evidence_ids.values()]
    nodes.append({"@id": _id("investigation", head["case"]["name"]), "@type": "case-investigation:Investigation",
                  "uco-core:name": head["case"]["name"], "uco-core:object": members})
    return {"@context": CONTEXT, "@graph": nodes}
