//! The controls of a tabletop exercise: the Exercise view's keys and the palette's `drill-*`
//! commands (the facilitator's, a player's acknowledgement, the briefing).

/// What a key or a palette command does to the drill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Drill {
    /// Start the drill when it is ready, pause it when it runs, resume it when paused.
    Toggle,
    Start,
    Pause,
    Resume,
    /// Twice the speed.
    Faster,
    /// Half the speed.
    Slower,
    /// A speed given as the palette's argument (`drill-speed 4`).
    Speed,
    /// Fire the next upcoming inject now.
    NextInject,
    /// Add an inject that fires now (`drill-inject KIND [TARGET] [NARRATIVE…]`).
    Inject,
    /// A message to every player (`drill-message TEXT`).
    Message,
    /// A facilitator's note (`drill-note [+|-] TEXT`: went well, to improve).
    Note,
    /// End the drill (a confirmation first).
    End,
    /// A player has seen the latest inject (or the one named).
    Acknowledge,
    /// Show the briefing again.
    Briefing,
}

impl Drill {
    /// The ones the palette lists, in its order.
    pub const PALETTE: [Drill; 13] = [
        Drill::Start,
        Drill::Pause,
        Drill::Resume,
        Drill::Faster,
        Drill::Slower,
        Drill::Speed,
        Drill::NextInject,
        Drill::Inject,
        Drill::Message,
        Drill::Note,
        Drill::End,
        Drill::Acknowledge,
        Drill::Briefing,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            Drill::Toggle => "Start the drill, pause it, or resume it (facilitator)",
            Drill::Start => "Start the drill: the clock runs from T0 (facilitator)",
            Drill::Pause => "Pause the drill: the clock and the fleet stop (facilitator)",
            Drill::Resume => "Resume the paused drill (facilitator)",
            Drill::Faster => "Run the drill twice as fast (facilitator)",
            Drill::Slower => "Run the drill half as fast (facilitator)",
            Drill::Speed => "Set the drill's speed: drill-speed 4 (facilitator)",
            Drill::NextInject => "Fire the next inject now (facilitator)",
            Drill::Inject => {
                "Add an inject now: drill-inject KIND [TARGET] [narrative] (facilitator)"
            }
            Drill::Message => "Send every player a message: drill-message TEXT (facilitator)",
            Drill::Note => "Note for the report: drill-note [+ went well|- to improve] TEXT",
            Drill::End => "End the drill and write the report (asks first; facilitator)",
            Drill::Acknowledge => "Acknowledge the latest inject (counts as detecting it)",
            Drill::Briefing => "Show the drill's briefing again",
        }
    }

    pub fn command_name(self) -> &'static str {
        match self {
            Drill::Toggle => "drill-toggle",
            Drill::Start => "drill-start",
            Drill::Pause => "drill-pause",
            Drill::Resume => "drill-resume",
            Drill::Faster => "drill-faster",
            Drill::Slower => "drill-slower",
            Drill::Speed => "drill-speed",
            Drill::NextInject => "drill-next",
            Drill::Inject => "drill-inject",
            Drill::Message => "drill-message",
            Drill::Note => "drill-note",
            Drill::End => "drill-end",
            Drill::Acknowledge => "drill-ack",
            Drill::Briefing => "briefing",
        }
    }

    /// The word of a hint.
    pub fn short(self) -> &'static str {
        match self {
            Drill::Toggle => "start/pause",
            Drill::Faster => "faster",
            Drill::Slower => "slower",
            Drill::NextInject => "next inject",
            Drill::Inject => "inject",
            Drill::Message => "message",
            Drill::Note => "note",
            Drill::End => "end",
            Drill::Acknowledge => "ack",
            Drill::Briefing => "briefing",
            other => other.command_name(),
        }
    }

    /// Whether only the facilitator may do it.
    pub fn facilitator_only(self) -> bool {
        !matches!(self, Drill::Acknowledge | Drill::Briefing)
    }

    /// Whether the palette's words after the command are what it sends (a text, a speed).
    pub fn takes_text(self) -> bool {
        matches!(
            self,
            Drill::Speed | Drill::Inject | Drill::Message | Drill::Note | Drill::Acknowledge
        )
    }
}
