//! GPIO transport: the box's header pins, behind the [`Gpio`] trait so drivers run against a
//! simulated pin bank in tests and on machines that are not a Raspberry Pi.
