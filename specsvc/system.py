"""The system of applications: the event-sourced application and the projections it feeds."""

from __future__ import annotations

from eventsourcing.system import System

from specsvc.application import SpecApplication
from specsvc.projections import SpecProjections

spec_system = System(pipes=[[SpecApplication, SpecProjections]])
