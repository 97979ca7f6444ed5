//! A roofline model of a training step's time, and the batch size it says a target MFU needs.
