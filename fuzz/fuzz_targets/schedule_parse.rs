//! Any string as a schedule, with any start and zone: parsing must never
//! panic, and accepted schedules give strictly increasing fire times.
#![no_main]

use jiff::Timestamp;
use jobcd::schedule::{Schedule, Zone};
use libfuzzer_sys::fuzz_target;

const ZONES: [&str; 4] = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
];

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let (head, text) = data.split_at(9);
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let Ok(schedule) = Schedule::parse(text) else {
        return;
    };
    let _ = schedule.describe();
    // 2000-01-01 plus up to ~68 years, from the first 4 bytes.
    let secs =
        946_684_800 + i64::from(u32::from_le_bytes([head[0], head[1], head[2], head[3]]) >> 1);
    let Ok(start) = Timestamp::from_second(secs) else {
        return;
    };
    let zone = match head[4] as usize % (ZONES.len() + 1) {
        0 => Zone::utc(),
        i => Zone::named(ZONES[i - 1]).expect("a known zone"),
    };
    let mut previous = start;
    for next in schedule.upcoming(start, &zone).take(3) {
        assert!(
            next > previous,
            "{text:?} from {start} in {}: {next} is not after {previous}",
            zone.name()
        );
        previous = next;
    }
});
