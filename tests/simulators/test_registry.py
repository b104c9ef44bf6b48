"""The simulator registry: one entry per system package, each consistent with its options."""

from __future__ import annotations

import dataclasses
import importlib

from simulators.registry import SIMULATORS


def test_each_system_package_registers_one_simulator_under_its_own_name() -> None:
    names = [s.name for s in SIMULATORS]
    assert names == [
        "business_central", "nav", "servicenow", "finance_operations", "acumatica",
        "servicetitan",
    ]  # fmt: skip
    for simulator in SIMULATORS:
        package = importlib.import_module(f"simulators.{simulator.name}")
        assert package.create_app is simulator.create_app
        registration = importlib.import_module(f"simulators.{simulator.name}.registration")
        assert registration.SIMULATOR is simulator


def test_command_line_options_name_real_options_fields() -> None:
    for simulator in SIMULATORS:
        fields = {f.name for f in dataclasses.fields(simulator.options)}
        assert set(simulator.cli_options.values()) <= fields, simulator.name


def test_a_webhook_subscription_becomes_options_the_simulator_accepts() -> None:
    takers = [s for s in SIMULATORS if s.accepts_webhooks]
    assert [s.name for s in takers] == ["servicetitan"]
    for simulator in takers:
        assert simulator.subscribe is not None
        values = simulator.subscribe("http://hooks.test/x", "k" * 32)
        options = simulator.options(**values)
        [hook] = options.webhook_subscriptions
        assert (hook.url, hook.hmac_key) == ("http://hooks.test/x", "k" * 32)
