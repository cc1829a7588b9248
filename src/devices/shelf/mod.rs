//! Shelf sensors: storehub nodes over serial, an HX711 on GPIO, beam-break / door inputs.
