//! The telemetry message (QoS 0 on `…/telemetry` every `[mqtt].telemetry_interval_s`): outbox
//! depth and age, device health, CPU, memory, disk free, uptime and version.
