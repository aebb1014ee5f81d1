"""Sources: which app or device recorded a sample, and what kind of device that is.

The read side ranks overlapping samples by the kind of their source (manual entry, then the
Watch, then the iPhone, then the rest), so the kind is inferred once here from what HealthKit
reports: HKSourceRevision's bundle id and product type, HKDevice's model and manufacturer.
"""

from __future__ import annotations

from typing import Final

import msgspec

from hksync.contract.chunk_wire import DeviceIn, SourceIn
from hksync.contract.sample_rows import DeviceKind, SourceRow, source_key

#: The Health app itself: what a person typed in by hand.
HEALTH_APP_BUNDLE: Final = "com.apple.Health"
APPLE_BUNDLE_PREFIX: Final = "com.apple."
_SCALE_WORDS: Final = ("scale", "withings body", "renpho", "eufy")
_RING_WORDS: Final = ("ring", "oura", "ultrahuman", "circular")


def device_kind(source: SourceIn, device: DeviceIn | None) -> DeviceKind:
    """Best inference from the fields HealthKit reports; "app" when nothing says more."""
    product = (source.product_type or "").lower()
    model = (device.model or "").lower() if device else ""
    described = " ".join(
        (
            model,
            (device.name or "") if device else "",
            (device.manufacturer or "") if device else "",
        )
    ).lower()
    if source.bundle_id == HEALTH_APP_BUNDLE and not product.startswith("watch"):
        return DeviceKind.MANUAL
    # Every app on the phone reports the phone's product type: only Apple's own sources (the
    # Watch's and the iPhone's sensors) are the devices themselves.
    if source.bundle_id.startswith(APPLE_BUNDLE_PREFIX):
        if product.startswith("watch") or model == "watch":
            return DeviceKind.WATCH
        if product.startswith("iphone") or model == "iphone":
            return DeviceKind.PHONE
    if any(word in described for word in _SCALE_WORDS):
        return DeviceKind.SCALE
    if any(word in described for word in _RING_WORDS):
        return DeviceKind.RING
    return DeviceKind.APP


class SourceCatalogue:
    """The distinct sources of one chunk. A chunk has few (a Watch, a phone, an app), so each
    is keyed and its device serialised once, however many samples it wrote."""

    def __init__(self) -> None:
        self._rows: dict[tuple[SourceIn, DeviceIn | None], SourceRow] = {}
        self._devices: dict[DeviceIn, str | None] = {}

    def key_of(self, source: SourceIn, device: DeviceIn | None) -> str:
        identity = (source, device)
        row = self._rows.get(identity)
        if row is None:
            model = device.model if device else None
            name = device.name if device else None
            key = source_key(
                source.bundle_id, source.name, source.version, source.product_type, model, name
            )
            row = self._rows[identity] = SourceRow(
                source_key=key,
                bundle_id=source.bundle_id,
                name=source.name,
                version=source.version,
                product_type=source.product_type,
                device_model=model,
                device_name=name,
                device_kind=device_kind(source, device),
            )
        return row.source_key

    def device_json(self, device: DeviceIn | None) -> str | None:
        if device is None:
            return None
        try:
            return self._devices[device]
        except KeyError:
            fields = {k: v for k, v in msgspec.structs.asdict(device).items() if v is not None}
            text = self._devices[device] = msgspec.json.encode(fields).decode() if fields else None
            return text

    def rows(self) -> list[SourceRow]:
        """One row per source key (two identities may share a key only if equal in every
        keyed field)."""
        return list({row.source_key: row for row in self._rows.values()}.values())
