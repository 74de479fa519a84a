"""EC2 Auto Scaling, EC2 and ELBv2 behaviour: AZ spread, launch time, target health, AZ loss.

What moto does (moto 5.2.5, checked): an Auto Scaling group puts every instance in the FIRST
subnet of ``VPCZoneIdentifier`` (all in one AZ); instances are ``InService``/``running`` at once;
ASG instances are registered into the group's target groups and every target is ``healthy``;
a terminated instance is replaced synchronously; nothing can impair an AZ.

What this package adds, on the run's clock:

- **Placement** (``lifecycle``). Every instance the group launches goes to the enabled AZ with the fewest
  instances of the group, skipping impaired AZs ([ASG-UG:auto-scaling-benefits] "launches go to the
  enabled AZ with the fewest instances"; ``balanced-best-effort``). Ties go to the first AZ by name.
  Scale-in removes from the AZ with the most instances (the ``Default`` termination policy; ties:
  the last AZ by name), the newest instance there (AWS then picks by billing hour, arbitrarily).
- **Launch time** (``lifecycle``). A new instance is ``Pending`` (EC2 ``pending``, target ``initial`` /
  ``Elb.RegistrationInProgress``) for ``ec2_launch_time``, then ``InService`` (``running``,
  ``healthy``).
- **Termination** (``lifecycle``). A removed instance is ``Terminating`` while its targets drain
  (``draining`` / ``Target.DeregistrationInProgress``) for the target group's
  ``deregistration_delay.timeout_seconds`` (default 300 s, [BC:elbv2]); the ASG waits out the
  deregistration delay before terminating ([ASG-UG:ec2-auto-scaling-health-checks]).
- **AZ loss** (``lifecycle``, ``targets``). Instances in a lost AZ stop serving at once. The ALB notices after
  ``elb_unhealthy_threshold`` × ``elb_health_check_interval`` (``unhealthy`` / ``Target.Timeout``);
  at that moment the group replaces them (ELB health check type; the EC2 type uses the same
  detection time): "an instance was taken out of service in response to an ELB system health check
  failure", then a replacement launches in a remaining AZ. While their AZ stays lost, the drained
  targets keep reporting ``unhealthy`` / ``Target.Timeout`` (they fail every check) rather than
  ``draining``. When the AZ comes back nothing moves back by itself: the AZ is only usable for new
  launches again (this model has no ``AZRebalance``).
- **ALB endpoints** (``targets``). Each load balancer's DNS name is an :class:`Endpoint` that is healthy while at
  least one target of its target groups really serves (``InService`` in an AZ that is up).

Scaling activities are recorded and answered by ``DescribeScalingActivities`` with clock times
(``activities``). The state lives in one :class:`ComputeModel` (``backend``); the three emulators
(``responses``) are thin adapters over it, added together by :func:`install_compute`.
"""
from __future__ import annotations

from pytest_drtest.emulation.compute.backend import ComputeModel
from pytest_drtest.emulation.compute.models import (
    DETACHED,
    IN_SERVICE,
    LIVE_STATES,
    PENDING,
    TERMINATED,
    TERMINATING,
    ComputeEvent,
    InstanceView,
)
from pytest_drtest.emulation.compute.responses import (
    AutoScalingEmulator,
    Ec2Emulator,
    Elbv2Emulator,
    install_compute,
)

__all__ = [
    "DETACHED",
    "IN_SERVICE",
    "LIVE_STATES",
    "PENDING",
    "TERMINATED",
    "TERMINATING",
    "AutoScalingEmulator",
    "ComputeEvent",
    "ComputeModel",
    "Ec2Emulator",
    "Elbv2Emulator",
    "InstanceView",
    "install_compute",
]
