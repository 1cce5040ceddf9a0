"""Honour a DMARC failure's published policy when the YAML says so (dmarc.honor_reject,
dmarc.honor_quarantine): the sender's domain asks for it, whatever the score."""

from __future__ import annotations

from thurac.auth import AuthResults, trusted_arc_sealer
from thurac.config import DmarcSettings
from thurac.policy.base import SILENT, Judgement, Override, PolicyInput
from thurac.verdict import Action


def forced_action(auth: AuthResults, settings: DmarcSettings) -> Action | None:
    """p=reject → reject (honor_reject); p=quarantine → quarantine (honor_quarantine);
    a p=reject failure is at least quarantined when only honor_quarantine is on.
    Nothing is forced for a pass, a temperror, or a failure a trusted ARC sealer vouches for.
    """
    result = auth.dmarc
    if result is None or result.result != "fail" or trusted_arc_sealer(auth) is not None:
        return None
    if result.policy == "reject" and settings.honor_reject:
        return "reject"
    if result.policy in ("reject", "quarantine") and settings.honor_quarantine:
        return "quarantine"
    return None


class DmarcHonour:
    name = "dmarc_honour"
    symbols: tuple[str, ...] = ()

    def judge(self, facts: PolicyInput) -> Judgement:
        auth = facts.auth
        action = forced_action(auth, facts.settings.dmarc)
        if action is None or auth.dmarc is None:
            return SILENT
        switch = "honor_reject" if action == "reject" else "honor_quarantine"
        return Judgement(override=Override(action, self.name, f"DMARC p={auth.dmarc.policy} "
                         f"failure for {auth.dmarc.domain} (dmarc.{switch})"))
