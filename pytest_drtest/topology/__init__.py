"""Builders of the HA/DR topologies; the strategies compose them."""
from __future__ import annotations

from pytest_drtest.topology.blueprint import Blueprint, load_blueprint
from pytest_drtest.topology.model import RegionStack, Topology

__all__ = ["Blueprint", "RegionStack", "Topology", "load_blueprint"]
