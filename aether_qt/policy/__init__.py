"""L5 policy: the one gate every side effect passes, and the signed audit chain (DESIGN.md §5).

No Qt. Exports: :mod:`.capabilities` (capabilities, risk classes, presets,
modes), :mod:`.decisions` (:class:`~.decisions.ActionRequest` and the decisions),
:mod:`.gate` (:class:`~.gate.Gate`: the fixed evaluation order, every exit audited
before it returns) over :mod:`.evaluator`, :mod:`.scope` and
:mod:`.resolved_scope`; :mod:`.grants` and :mod:`.grant_state` (the ledger,
rebuildable from the audit log), :mod:`.approvals` (tickets), :mod:`.permits`;
the audit chain :mod:`.audit_chain`, :mod:`.audit_records`, :mod:`.canonical`,
:mod:`.audit_anchor`, :mod:`.audit_verify`, :mod:`.audit_bundle`; :mod:`.keys`
(keyring or the opt-in key file); :mod:`.effects` (the only module that touches
the outside world, with a permit) and :mod:`.guard` (the runtime tripwire, its
rules in :mod:`.guard_rules`, :mod:`.guard_net` and :mod:`.guard_native`);
:mod:`.runtime` (:class:`~.runtime.PolicyRuntime`, the assembled layer).
"""
