//! USB HID transport: whole input reports from `/dev/hidrawN`, or from a device found by
//! `usb:VID:PID[:SERIAL]` through hidapi.
