use std::sync::{LazyLock, Mutex};

struct Settings {
    verbose: bool,
}

#[leakguard::track_growth(len = 10)]
static SETTINGS: LazyLock<Mutex<Settings>> = LazyLock::new(|| Mutex::new(Settings { verbose: false }));

fn main() {}
