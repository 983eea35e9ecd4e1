//! The context menu of a wire (right-click on its curve): delete it, insert a node into it,
//! or set what it does when full.

use egui::{RichText, Ui};
use streamloom_runtime::registry::ERRORS_PORT;
use streamloom_runtime::{Category, Graph, PortRef, PortType, Registry, WhenFull};

use super::actions::Action;
use super::ports::PortCache;

/// Kinds that can sit on a wire carrying `out_ty` events into an input of type `in_ty`:
/// an input that accepts the events and an output (other than `errors`) the input accepts.
pub fn fits_between(kind: &dyn streamloom_runtime::NodeKind, out_ty: PortType, in_ty: PortType) -> bool {
    let ports = kind.ports(&kind.default_config());
    ports.inputs.iter().any(|i| out_ty.flows_into(i.ty))
        && ports.outputs.iter().any(|o| o.name != ERRORS_PORT && o.ty.flows_into(in_ty))
}

/// Draws the menu of the wire from `from` to `to`; `pos` is where a new node goes (canvas).
pub fn show(
    ui: &mut Ui,
    (graph, registry, ports): (&Graph, &Registry, &PortCache),
    from: &PortRef,
    to: &PortRef,
    pos: [f32; 2],
    actions: &mut Vec<Action>,
) {
    let Some(wire) = graph.wires.iter().find(|w| &w.from == from && &w.to == to) else {
        ui.label("This wire no longer exists.");
        return;
    };
    ui.label(RichText::new(format!("Wire {}", wire.id())).strong());
    if ui.button("🗑 Delete wire").clicked() {
        actions.push(Action::Disconnect(from.clone(), to.clone()));
        ui.close();
    }
    let out_ty = ports.output_type(&from.node, &from.port).unwrap_or(PortType::Any);
    let in_ty = ports.input_type(&to.node, &to.port).unwrap_or(PortType::Any);
    ui.menu_button("Insert node…", |ui| {
        for cat in [Category::Source, Category::Operator, Category::Sink] {
            let kinds: Vec<_> = registry
                .kinds()
                .into_iter()
                .filter(|k| k.category() == cat && fits_between(&***k, out_ty, in_ty))
                .collect();
            if kinds.is_empty() {
                continue;
            }
            ui.label(RichText::new(cat.name()).weak());
            for k in kinds {
                if ui.button(k.name()).on_hover_text(k.description()).clicked() {
                    let (kind, from, to) = (k.name().to_string(), from.clone(), to.clone());
                    actions.push(Action::InsertOnWire { kind, pos, from, to });
                    ui.close();
                }
            }
        }
    });
    ui.separator();
    ui.label(RichText::new("When full").weak());
    let current = wire.when_full.unwrap_or_default();
    for p in WhenFull::ALL {
        if ui.radio(current == p, p.name()).clicked() {
            actions.push(Action::SetWhenFull(from.clone(), to.clone(), p));
            ui.close();
        }
    }
}
