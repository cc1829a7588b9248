//! Customer pole display (VFD/LCD, CD5220 / ESC-POS display command set) over serial.
