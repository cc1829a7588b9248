//! Barcode scanners: serial / USB-CDC line scanners, USB HID keyboard-wedge and HID POS.
