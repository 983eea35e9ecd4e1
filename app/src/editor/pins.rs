//! Pins that remember where they were drawn, so the canvas can put queue gauges and
//! problem marks on wires (egui-snarl does not expose wire geometry).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use egui::{Painter, Pos2, Rect, Style};
use egui_snarl::ui::{PinInfo, PinWireInfo, SnarlPin, SnarlStyle};
use egui_snarl::{InPinId, OutPinId};

/// Where each pin was drawn in the last frame, in canvas coordinates.
#[derive(Default)]
pub struct PinPositions {
    /// Output pins.
    pub outputs: HashMap<OutPinId, Pos2>,
    /// Input pins.
    pub inputs: HashMap<InPinId, Pos2>,
}

/// Shared between the canvas and the pins drawn this frame.
pub type SharedPins = Rc<RefCell<PinPositions>>;

/// Which pin.
#[derive(Clone, Copy)]
pub enum PinKey {
    /// An output.
    Out(OutPinId),
    /// An input.
    In(InPinId),
}

/// A [`PinInfo`] that records its position when drawn.
pub struct TrackedPin {
    /// How it looks.
    pub info: PinInfo,
    /// Which pin.
    pub key: PinKey,
    /// Where to record.
    pub sink: SharedPins,
}

impl SnarlPin for TrackedPin {
    fn draw(self, snarl_style: &SnarlStyle, style: &Style, rect: Rect, painter: &Painter) -> PinWireInfo {
        let mut pins = self.sink.borrow_mut();
        match self.key {
            PinKey::Out(id) => pins.outputs.insert(id, rect.center()),
            PinKey::In(id) => pins.inputs.insert(id, rect.center()),
        };
        self.info.draw(snarl_style, style, rect, painter)
    }
}
