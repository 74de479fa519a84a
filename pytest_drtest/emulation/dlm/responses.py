"""The Data Lifecycle Manager API, answered by the emulation (moto 5.2.5 has no DLM), and the EC2
view of the snapshots policies make.

[BC:dlm]: ``CreateLifecyclePolicy`` answers the ``PolicyId``; ``GetLifecyclePolicy`` the
``LifecyclePolicy`` (``DateCreated``/``DateModified`` in clock time); ``GetLifecyclePolicies``
summaries, filtered by ``PolicyIds``, ``State``, ``ResourceTypes``, ``TargetTags`` and
``TagsToAdd`` (``key=value``); ``UpdateLifecyclePolicy`` may not change the policy type or the
resource type; an unknown policy is ``ResourceNotFoundException`` (404). EC2's
``DescribeSnapshots`` reports a policy's snapshots ``pending`` (with ``Progress``) until the modeled
time, their ``StartTime`` in clock time, and a copy's ``Encrypted`` as the copy rule made it (moto
copies the source's).
"""
from __future__ import annotations

import copy
from typing import Any

from pytest_drtest.emulation.core import AwsError, Call, Emulation, ServiceEmulator
from pytest_drtest.emulation.dlm.lifecycle import Lifecycle
from pytest_drtest.emulation.dlm.models import (
    MAX_POLICIES_PER_REGION,
    ManagedSnapshot,
    Policy,
    invalid,
    parse_details,
)
from pytest_drtest.emulation.rds_common.arns import ACCOUNT
from pytest_drtest.regions import REGION_AZS

DEFAULT_POLICY_FIELDS = ("DefaultPolicy", "CreateInterval", "RetainInterval", "CopyTags", "ExtendDeletion",
                         "CrossRegionCopyTargets", "Exclusions")


def not_found(policy_id: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"Lifecycle policy {policy_id} not found.", 404)


class DlmEmulator(Lifecycle):
    """Amazon Data Lifecycle Manager: custom EBS snapshot policies."""

    service = "dlm"

    def __init__(self, emulation: Emulation) -> None:
        super().__init__(emulation)
        self.policies: dict[str, Policy] = {}
        self.snapshots: dict[str, ManagedSnapshot] = {}
        self._init_lifecycle()

    def _policy(self, policy_id: Any, region: str) -> Policy:
        policy = self.policies.get(str(policy_id))
        if policy is None or policy.region != region:
            raise not_found(str(policy_id))
        return policy

    def _new_id(self) -> str:
        rng = self.profile.rng("dlm.policy-ids")
        while True:
            policy_id = "policy-" + "".join(rng.choice("0123456789abcdef") for _ in range(17))
            if policy_id not in self.policies:
                return policy_id

    # -- policies -----------------------------------------------------------------------------
    def before_CreateLifecyclePolicy(self, call: Call) -> dict[str, Any]:
        params = call.params
        for name in DEFAULT_POLICY_FIELDS:
            if params.get(name) not in (None, [], {}):
                raise invalid(f"Default policies ({name}) are not emulated; create a custom policy with PolicyDetails.")
        if sum(1 for p in self.policies.values() if p.region == call.region) >= MAX_POLICIES_PER_REGION:
            raise AwsError("LimitExceededException", f"You can create up to {MAX_POLICIES_PER_REGION} lifecycle policies per Region.", 429)
        raw = params.get("PolicyDetails")
        parsed = parse_details(raw, call.region, set(REGION_AZS))
        details: dict[str, Any] = copy.deepcopy(raw if isinstance(raw, dict) else {})
        details.setdefault("PolicyType", "EBS_SNAPSHOT_MANAGEMENT")
        now = self.clock.datetime()
        policy_id = self._new_id()
        policy = Policy(
            id=policy_id,
            region=call.region,
            arn=f"arn:aws:dlm:{call.region}:{ACCOUNT}:policy/{policy_id}",
            description=str(params.get("Description", "")),
            state=str(params.get("State", "ENABLED")),
            role_arn=str(params.get("ExecutionRoleArn", "")),
            details=details,
            resource_types=parsed.resource_types,
            target_tags=parsed.target_tags,
            exclude_boot_volume=parsed.exclude_boot_volume,
            schedules=parsed.schedules,
            tags=dict(params.get("Tags") or {}),
            created=now,
            modified=now,
        )
        self.policies[policy_id] = policy
        self._arm(policy)
        return {"PolicyId": policy_id}

    def before_GetLifecyclePolicy(self, call: Call) -> dict[str, Any]:
        policy = self._policy(call.params.get("PolicyId"), call.region)
        body: dict[str, Any] = {
            "PolicyId": policy.id,
            "Description": policy.description,
            "State": policy.state,
            "StatusMessage": policy.state,
            "ExecutionRoleArn": policy.role_arn,
            "DateCreated": policy.created,
            "DateModified": policy.modified,
            "PolicyDetails": copy.deepcopy(policy.details),
            "PolicyArn": policy.arn,
            "DefaultPolicy": False,
        }
        if policy.tags:
            body["Tags"] = dict(policy.tags)
        return {"Policy": body}

    def before_GetLifecyclePolicies(self, call: Call) -> dict[str, Any]:
        params = call.params
        wanted_ids = params.get("PolicyIds")
        regional = [p for p in self.policies.values() if p.region == call.region]
        if wanted_ids:
            missing = [i for i in wanted_ids if i not in {p.id for p in regional}]
            if missing:
                raise not_found(", ".join(missing))
            regional = [p for p in regional if p.id in wanted_ids]
        if params.get("State"):
            regional = [p for p in regional if p.state == params["State"]]
        if params.get("ResourceTypes"):
            regional = [p for p in regional if set(p.resource_types) & set(params["ResourceTypes"])]
        if params.get("TargetTags"):
            regional = [p for p in regional if {f"{k}={v}" for k, v in p.target_tags} & set(params["TargetTags"])]
        if params.get("TagsToAdd"):
            regional = [p for p in regional
                        if {f"{k}={v}" for s in p.schedules for k, v in s.tags_to_add} & set(params["TagsToAdd"])]
        summaries = []
        for policy in sorted(regional, key=lambda p: p.created):
            summary: dict[str, Any] = {"PolicyId": policy.id, "Description": policy.description, "State": policy.state,
                                       "PolicyType": policy.details.get("PolicyType", "EBS_SNAPSHOT_MANAGEMENT"),
                                       "DefaultPolicy": False}
            if policy.tags:
                summary["Tags"] = dict(policy.tags)
            summaries.append(summary)
        return {"Policies": summaries}

    def before_UpdateLifecyclePolicy(self, call: Call) -> dict[str, Any]:
        params = call.params
        policy = self._policy(params.get("PolicyId"), call.region)
        for name in DEFAULT_POLICY_FIELDS:
            if params.get(name) not in (None, [], {}):
                raise invalid(f"{name} applies to default policies only.")
        if params.get("PolicyDetails") is not None:
            details = copy.deepcopy(params["PolicyDetails"])
            details.setdefault("PolicyType", "EBS_SNAPSHOT_MANAGEMENT")
            if details["PolicyType"] != policy.details.get("PolicyType", "EBS_SNAPSHOT_MANAGEMENT"):
                raise invalid("You cannot update the policy type.")
            details.setdefault("ResourceTypes", list(policy.resource_types))
            parsed = parse_details(details, call.region, set(REGION_AZS))
            if parsed.resource_types != policy.resource_types:
                raise invalid("You cannot update the resource type.")
            before = {s.name: s.retention for s in policy.schedules}
            for schedule in parsed.schedules:
                old = before.get(schedule.name)
                if old is not None and old.age_based != schedule.retention.age_based:
                    raise invalid(f"Schedule {schedule.name}: you cannot change the retention schedule between "
                                  "count-based and time-based after creation; create a new policy.")
            policy.details = details
            policy.resource_types = parsed.resource_types
            policy.target_tags = parsed.target_tags
            policy.exclude_boot_volume = parsed.exclude_boot_volume
            policy.schedules = parsed.schedules
        if params.get("Description") is not None:
            policy.description = str(params["Description"])
        if params.get("ExecutionRoleArn") is not None:
            policy.role_arn = str(params["ExecutionRoleArn"])
        was = policy.state
        if params.get("State") is not None:
            policy.state = str(params["State"])
        policy.modified = self.clock.datetime()
        self._arm(policy)
        if policy.state == "ENABLED" and was != "ENABLED":
            self._expire_overdue(policy)
        return {}

    def before_DeleteLifecyclePolicy(self, call: Call) -> dict[str, Any]:
        policy = self._policy(call.params.get("PolicyId"), call.region)
        self._disarm(policy.id)
        del self.policies[policy.id]
        return {}

    # -- tags ---------------------------------------------------------------------------------
    def _by_arn(self, arn: Any, region: str) -> Policy:
        policy = next((p for p in self.policies.values() if p.arn == arn), None)
        if policy is None or policy.region != region:
            raise AwsError("ResourceNotFoundException", f"Resource {arn} not found.", 404)
        return policy

    def before_TagResource(self, call: Call) -> dict[str, Any]:
        self._by_arn(call.params.get("ResourceArn"), call.region).tags.update(call.params.get("Tags") or {})
        return {}

    def before_UntagResource(self, call: Call) -> dict[str, Any]:
        policy = self._by_arn(call.params.get("ResourceArn"), call.region)
        for key in call.params.get("TagKeys") or []:
            policy.tags.pop(key, None)
        return {}

    def before_ListTagsForResource(self, call: Call) -> dict[str, Any]:
        return {"Tags": dict(self._by_arn(call.params.get("ResourceArn"), call.region).tags)}


class DlmSnapshotView(ServiceEmulator):
    """EC2: the snapshots of Data Lifecycle Manager policies as AWS reports them."""

    service = "ec2"

    def __init__(self, emulation: Emulation, dlm: DlmEmulator) -> None:
        super().__init__(emulation)
        self.dlm = dlm

    def after_DescribeSnapshots(self, call: Call) -> None:
        now = self.clock.now()
        for row in (call.parsed or {}).get("Snapshots") or []:
            record = self.dlm.snapshots.get(row.get("SnapshotId", ""))
            if record is None or record.region != call.region:
                continue
            row["StartTime"] = self.clock.datetime(record.created_at)
            row["Encrypted"] = record.encrypted
            if now < record.ready_at:
                span = record.ready_at - record.created_at
                row["State"] = "pending"
                row["Progress"] = f"{int(100 * (now - record.created_at) / span) if span > 0 else 0}%"
            else:
                row["State"] = "completed"
                row["Progress"] = "100%"

    def after_DeleteSnapshot(self, call: Call) -> None:
        record = self.dlm.snapshots.get(str(call.params.get("SnapshotId")))
        if record is not None and record.region == call.region and record.deleted_at is None:
            record.deleted_at = self.clock.now()


def install_dlm(emulation: Emulation) -> DlmEmulator:
    """Add the DLM emulator and its EC2 view of policy snapshots."""
    dlm = DlmEmulator(emulation)
    emulation.add(dlm)
    emulation.add(DlmSnapshotView(emulation, dlm))
    return dlm
