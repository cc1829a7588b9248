//! Scales: Toledo 8217, MT-SICS, CAS, a configurable continuous-stream format, USB HID scales.
