"""Requests are counted in plain dicts and added to the Prometheus values at a flush: what a scrape shows
then is what observing each request one by one would have shown."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.core import metrics
from app.core.metrics import LANE_ROUTE, LATENCY_BUCKETS, count_request, flush

ROUTE = "/api/exams/{exam_id}/test-metrics-counting"
LATENCIES = [0.0004, 0.005, 0.0051, 0.02, 0.3, 0.3, 2.0, 45.0, 0.0]


def _samples(exposition: bytes, name: str, **labels: str) -> dict[str, float]:
    """A histogram's samples by ``le`` (and ``sum``/``count``) in an exposition."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(exposition.decode()):
        for sample in family.samples:
            if not sample.name.startswith(name) or any(sample.labels.get(k) != v for k, v in labels.items()):
                continue
            key = sample.labels.get("le") or sample.name.removeprefix(name).lstrip("_")
            found[key] = sample.value
    return found


def test_a_flush_shows_what_observing_each_request_would() -> None:
    flush()  # whatever other tests counted
    before = generate_latest(_registry())
    for seconds in LATENCIES:
        count_request({"method": "GET", LANE_ROUTE: ROUTE}, 200, seconds)
    count_request({"method": "GET", LANE_ROUTE: ROUTE}, 404, 0.01)
    flush()
    after = generate_latest(_registry())

    reference = Histogram("reference", "one observe() per request", buckets=LATENCY_BUCKETS, registry=None)
    for seconds in [*LATENCIES, 0.01]:
        reference.observe(seconds)
    expected_registry = CollectorRegistry()
    expected_registry.register(reference)
    expected = _samples(generate_latest(expected_registry), "reference")

    name, labels = "exambank_http_request_duration_seconds", {"method": "GET", "route": ROUTE}
    grown = {k: v - _samples(before, name, **labels).get(k, 0.0) for k, v in _samples(after, name, **labels).items()}
    assert grown.keys() >= {"+Inf", "0.005", "30.0", "sum", "count"}
    for key in ("+Inf", "0.005", "0.01", "0.025", "0.5", "2.5", "30.0", "count"):
        assert grown[key] == expected[key], key
    assert abs(grown["sum"] - expected["sum"]) < 1e-9

    requests = "exambank_http_requests"
    counted = {
        status: _samples(after, requests, route=ROUTE, status=status).get("total", 0.0)
        - _samples(before, requests, route=ROUTE, status=status).get("total", 0.0)
        for status in ("200", "404")
    }
    assert counted == {"200": len(LATENCIES), "404": 1}


def test_nothing_counted_twice_by_a_second_flush() -> None:
    count_request({"method": "GET", LANE_ROUTE: ROUTE}, 201, 0.1)
    flush()
    once = generate_latest(_registry())
    flush()
    assert generate_latest(_registry()) == once


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    for collector in (metrics.REQUESTS, metrics.LATENCY):
        registry.register(collector)
    return registry
