"""The flows between accounts across every ledger examined: one graph from the counterparty summaries.

A node is an account number, or a name when a ledger gives no number (``name:张三``), or a ledger with no
account column (``file#table``). An edge is money from one node to another, as the payer's ledger records it
(its ``out``) and as the payee's ledger records it (its ``in``); an edge both sides record is corroborated,
and the two totals can be compared. Cycles (money that comes back to where it left) are listed up to six
accounts long, between the examined accounts (each hop direct or through a third party both ledgers name).
Ledgers whose amounts carry no direction give no edges.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from dftk_plugins.ledger.values import money

LONGEST_CYCLE = 6
MOST_CYCLES = 100
SEARCH_STEPS = 200_000  # a bound on the cycle search in a dense graph; the graph says when it was reached


def node_of(subject: str, data: dict[str, Any]) -> tuple[str, str]:
    """The own node and the other side's node of a ``ledger/counterparty`` finding."""
    own = data["account"] or f"{subject}#{data['table']}"
    other = data["counterparty_account"] or f"name:{data['counterparty']}"
    return own, other


def flow_graph(summaries: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The graph of ``ledger/counterparty`` findings given as ``(subject, data)``."""
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    names: dict[str, set[str]] = defaultdict(set)
    owners: dict[str, set[str]] = defaultdict(set)
    undirected = set()
    for subject, data in summaries:
        if not data.get("directed"):
            undirected.add(f"{subject}#{data['table']}")
            continue
        own, other = node_of(subject, data)
        owners[own].add(f"{subject}#{data['table']}")
        names[other].update(data.get("names", []))
        names.setdefault(own, set())
        for source, target, side, total in ((other, own, "payee", data["in_total"]),
                                            (own, other, "payer", data["out_total"])):
            if Decimal(total) > 0:
                edge = edges.setdefault((source, target), {"payer": Decimal(0), "payee": Decimal(0), "reports": []})
                edge[side] += Decimal(total)
                edge["reports"].append({"ledger": f"{subject}#{data['table']}", "side": side, "total": total})
    return {"kind": "ledger/flow-graph",
            "nodes": [{"id": n, "names": sorted(names[n]), "ledgers": sorted(owners.get(n, ()))}
                      for n in sorted(names)],
            "edges": [_edge(key, edge) for key, edge in sorted(edges.items())],
            **_cycles(sorted(edges), set(owners)), "undirected_ledgers": sorted(undirected)}


def _edge(key: tuple[str, str], edge: dict[str, Any]) -> dict[str, Any]:
    payer, payee = edge["payer"], edge["payee"]
    return {"source": key[0], "target": key[1],
            "payer_total": money(payer) if payer else None, "payee_total": money(payee) if payee else None,
            "corroborated": bool(payer and payee), "difference": money(payer - payee) if payer and payee else None,
            "reports": sorted(edge["reports"], key=lambda r: (r["ledger"], r["side"]))}


def _cycles(edges: list[tuple[str, str]], owned: set[str]) -> dict[str, Any]:
    """Cycles of money between the examined accounts (the ledgers' own ones): every edge has an own account at
    one end, so a cycle through two or more of them is a cycle of own accounts, each hop direct or through
    other sides that both ledgers name (``via``). A customer paid and refunded is not such a cycle."""
    hops: dict[tuple[str, str], list[str]] = defaultdict(list)
    for source, target in edges:
        if source in owned and target in owned:
            hops[(source, target)].insert(0, "")
    into = defaultdict(list)
    for source, target in edges:
        if source in owned and target not in owned:
            into[target].append(source)
    for middle, target in edges:
        for source in into.get(middle, []) if target in owned else []:
            if source != target:
                hops[(source, target)].append(middle)
    found, complete = _owned_cycles(sorted(hops))
    return {"cycles": [{"accounts": c, "via": [_via(hops[(a, b)]) for a, b in zip(c, [*c[1:], c[0]], strict=True)]}
                       for c in found], "cycle_search_complete": complete}


def _via(middles: list[str]) -> list[str]:
    """A hop's intermediaries (none when the two accounts deal directly), at most ten."""
    return [] if "" in middles else sorted(middles)[:10]


def _owned_cycles(links: list[tuple[str, str]]) -> tuple[list[list[str]], bool]:
    """Each simple cycle once (from its smallest node, through larger ones only, in sorted order); whether the
    search ended before its step or cycle bounds."""
    after: dict[str, list[str]] = defaultdict(list)
    for source, target in links:
        after[source].append(target)
    steps, found = 0, list[list[str]]()
    for start in sorted(after):
        path, stack = [start], [iter(after[start])]
        while stack and steps < SEARCH_STEPS and len(found) < MOST_CYCLES:
            steps += 1
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                path.pop()
            elif step == start:
                found.append(list(path))
            elif step > start and step not in path and len(path) < LONGEST_CYCLE:
                path.append(step)
                stack.append(iter(after[step]))
    return found, steps < SEARCH_STEPS and len(found) < MOST_CYCLES
