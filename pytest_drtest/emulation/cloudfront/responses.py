"""The CloudFront emulator: origin-group checks moto lacks, and distributions requests can go through.

moto 5.2.5 stores ``OriginGroups`` unchecked and refuses a cache behavior whose ``TargetOriginId``
names an origin group (``NoSuchOrigin``), which CloudFront accepts. The emulator checks the
configuration as CloudFront does (:func:`~pytest_drtest.emulation.cloudfront.models.check_config`),
hands moto the group's primary origin as the behavior's target and answers the group again in
every response that shows the configuration.
"""
from __future__ import annotations

import copy
from typing import Any

import botocore.exceptions

from pytest_drtest.emulation.cloudfront.models import (
    DistributionSpec,
    check_config,
    parse_distribution,
)
from pytest_drtest.emulation.cloudfront.routing import Routing
from pytest_drtest.emulation.core import AwsError, Call, Emulation


def _behaviors(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The default cache behavior, then the others (the dicts, to read or rewrite)."""
    found: list[dict[str, Any]] = []
    default = config.get("DefaultCacheBehavior")
    if isinstance(default, dict):
        found.append(default)
    others = config.get("CacheBehaviors")
    if isinstance(others, dict):
        found.extend(b for b in others.get("Items") or [] if isinstance(b, dict))
    return found


class CloudFrontEmulator(Routing):
    """CloudFront (a global service: a Region's outage does not cut it off)."""

    service = "cloudfront"

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self.distributions: dict[str, DistributionSpec] = {}
        self.app_status: dict[str, int] = {}
        self._submitted: dict[int, dict[str, Any]] = {}  # id(config sent to moto) -> the caller's config
        self._targets: dict[str, list[str]] = {}  # distribution id -> each behavior's TargetOriginId

    # -- parameters: origin groups as targets -----------------------------------------------
    def _translate(self, holder: dict[str, Any]) -> None:
        config = holder.get("DistributionConfig")
        if not isinstance(config, dict):
            return
        sent = copy.deepcopy(config)  # never rewrite the caller's own dicts
        groups = (sent.get("OriginGroups") or {}).get("Items") or []
        primaries = {
            g.get("Id"): ((g.get("Members") or {}).get("Items") or [{}])[0].get("OriginId")
            for g in groups
            if isinstance(g, dict)
        }
        for behavior in _behaviors(sent):
            primary = primaries.get(behavior.get("TargetOriginId"))
            if primary is not None:
                behavior["TargetOriginId"] = primary
        holder["DistributionConfig"] = sent
        if len(self._submitted) > 64:
            self._submitted.clear()
        self._submitted[id(sent)] = copy.deepcopy(config)

    def translate_CreateDistribution(self, params: dict[str, Any], region: str) -> None:
        self._translate(params)

    def translate_UpdateDistribution(self, params: dict[str, Any], region: str) -> None:
        self._translate(params)

    def translate_CreateDistributionWithTags(self, params: dict[str, Any], region: str) -> None:
        holder = params.get("DistributionConfigWithTags")
        if isinstance(holder, dict):
            params["DistributionConfigWithTags"] = holder = dict(holder)
            self._translate(holder)

    def _original(self, holder: dict[str, Any] | None) -> dict[str, Any] | None:
        config = (holder or {}).get("DistributionConfig")
        if not isinstance(config, dict):
            return None
        return self._submitted.get(id(config), config)

    # -- checks -----------------------------------------------------------------------------
    def before_CreateDistribution(self, call: Call) -> None:
        self._check(call.params)

    def before_UpdateDistribution(self, call: Call) -> None:
        self._check(call.params)

    def before_CreateDistributionWithTags(self, call: Call) -> None:
        self._check(call.params.get("DistributionConfigWithTags"))

    def _check(self, holder: dict[str, Any] | None) -> None:
        original = self._original(holder)
        if original is not None:
            check_config(original)

    # -- what was made ----------------------------------------------------------------------
    def after_CreateDistribution(self, call: Call) -> None:
        self._record(call, call.params)

    def after_CreateDistributionWithTags(self, call: Call) -> None:
        self._record(call, call.params.get("DistributionConfigWithTags"))

    def after_UpdateDistribution(self, call: Call) -> None:
        self._record(call, call.params)

    def _record(self, call: Call, holder: dict[str, Any] | None) -> None:
        dist = (call.parsed or {}).get("Distribution") or {}
        config = (holder or {}).get("DistributionConfig")
        original = self._original(holder)
        if isinstance(config, dict):
            self._submitted.pop(id(config), None)
        if not dist.get("Id") or original is None:
            return
        self.distributions[dist["Id"]] = parse_distribution(dist["Id"], str(dist.get("DomainName", "")), original)
        self._targets[dist["Id"]] = [str(b.get("TargetOriginId")) for b in _behaviors(original)]
        self._restore_targets(dist["Id"], dist.get("DistributionConfig"))

    def before_DeleteDistribution(self, call: Call) -> None:
        """CloudFront deletes only a disabled distribution: ``DistributionNotDisabled`` (409) else
        ([BC:cloudfront] ``DeleteDistribution``; the CloudFront Developer Guide, "Delete a
        distribution": disable it, wait until it is deployed, then delete). moto deletes it as is."""
        ident = str(call.params.get("Id"))
        try:
            config = self.backdoor(call.region).get_distribution_config(Id=ident)["DistributionConfig"]
        except botocore.exceptions.ClientError:
            return  # moto answers NoSuchDistribution
        if config.get("Enabled"):
            raise AwsError("DistributionNotDisabled", "The distribution you are trying to delete has not been disabled.", 409)

    def after_DeleteDistribution(self, call: Call) -> None:
        self.distributions.pop(str(call.params.get("Id")), None)
        self._targets.pop(str(call.params.get("Id")), None)

    # -- answers: the caller's targets, not moto's ------------------------------------------
    def after_GetDistribution(self, call: Call) -> None:
        dist = (call.parsed or {}).get("Distribution") or {}
        self._restore_targets(str(call.params.get("Id")), dist.get("DistributionConfig"))

    def after_GetDistributionConfig(self, call: Call) -> None:
        self._restore_targets(str(call.params.get("Id")), (call.parsed or {}).get("DistributionConfig"))

    def after_ListDistributions(self, call: Call) -> None:
        for summary in ((call.parsed or {}).get("DistributionList") or {}).get("Items") or []:
            self._restore_targets(str(summary.get("Id")), summary)

    def _restore_targets(self, dist_id: str, config: Any) -> None:
        targets = self._targets.get(dist_id)
        if targets is None or not isinstance(config, dict):
            return
        for behavior, target in zip(_behaviors(config), targets, strict=False):
            behavior["TargetOriginId"] = target
