//! Support shared by leakguard's examples and end-to-end tests: a counting global allocator
//! and a `tracing` layer that captures events.

pub mod alloc {
    //! A global allocator that counts the bytes each thread has live.
    //!
    //! Counts are per thread, so tests running in parallel do not see each other's
    //! allocations; a value must be allocated and freed on the measuring thread.

    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
    }

    /// Counts requested bytes (`Layout::size`) on top of the system allocator.
    ///
    /// ```text
    /// #[global_allocator]
    /// static ALLOC: leakguard_examples::alloc::Counting = leakguard_examples::alloc::Counting;
    /// ```
    #[derive(Debug)]
    pub struct Counting;

    fn add(delta: isize) {
        // Unavailable only while the thread is being torn down.
        let _ = LIVE.try_with(|live| live.set(live.get() + delta));
    }

    // SAFETY: every call forwards to `System` with the caller's arguments unchanged; the
    // bookkeeping touches a const-initialized thread-local that never allocates.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded as is.
            let ptr = unsafe { System.alloc(layout) };
            if !ptr.is_null() {
                add(layout.size() as isize);
            }
            ptr
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded as is.
            let ptr = unsafe { System.alloc_zeroed(layout) };
            if !ptr.is_null() {
                add(layout.size() as isize);
            }
            ptr
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: forwarded as is.
            unsafe { System.dealloc(ptr, layout) };
            add(-(layout.size() as isize));
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: forwarded as is.
            let new = unsafe { System.realloc(ptr, layout, new_size) };
            if !new.is_null() {
                add(new_size as isize - layout.size() as isize);
            }
            new
        }
    }

    /// Bytes this thread has allocated and not yet freed, since it started.
    pub fn live_bytes() -> isize {
        LIVE.with(Cell::get)
    }

    /// Has leakguard's registry of live collections allocate its first chunk and this
    /// thread's stock of free slots, so that measurements that follow count the collections'
    /// heap only. The registry's own bytes are reported apart, by
    /// `leakguard::report().registry_bytes`.
    pub fn warm_up_registry() {
        #[leakguard::track_growth]
        #[derive(Default)]
        struct Warm {
            items: Vec<u8>,
        }
        let warm: Vec<Warm> = (0..64)
            .map(|_| {
                let mut w = Warm::default();
                w.items.push(1);
                w
            })
            .collect();
        drop(warm);
    }

    /// Runs `f` and returns its value with the bytes it left allocated on this thread.
    pub fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, isize) {
        let before = live_bytes();
        let value = f();
        (value, live_bytes() - before)
    }
}

pub mod capture {
    //! A `tracing` layer that records events, for asserting on their exact text.

    use std::fmt::{self, Write as _};
    use std::sync::{Arc, Mutex, PoisonError};

    use tracing::field::{Field, Visit};
    use tracing::{Event, Level, Subscriber};
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::Context;

    /// One recorded event.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Captured {
        pub level: Level,
        pub target: String,
        pub message: String,
        /// The other fields, `name=value`, in the order they were recorded.
        pub fields: Vec<(String, String)>,
    }

    impl Captured {
        /// The value of field `name`, as `Debug` printed it.
        pub fn field(&self, name: &str) -> Option<&str> {
            self.fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }
    }

    /// The events a [`CaptureLayer`] has seen.
    #[derive(Clone, Debug, Default)]
    pub struct Events(Arc<Mutex<Vec<Captured>>>);

    impl Events {
        /// All events so far.
        pub fn all(&self) -> Vec<Captured> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        }

        /// The messages of the events with target `leakguard`.
        pub fn leakguard_messages(&self) -> Vec<String> {
            self.all()
                .into_iter()
                .filter(|e| e.target == "leakguard")
                .map(|e| e.message)
                .collect()
        }

        /// Forgets the events so far.
        pub fn clear(&self) {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
        }
    }

    /// Records every event into its [`Events`].
    #[derive(Debug)]
    pub struct CaptureLayer(Events);

    /// A layer and the handle to read what it records.
    pub fn layer() -> (CaptureLayer, Events) {
        let events = Events::default();
        (CaptureLayer(events.clone()), events)
    }

    /// A subscriber that records every event, and the handle to read them.
    pub fn subscriber() -> (impl Subscriber + Send + Sync, Events) {
        use tracing_subscriber::layer::SubscriberExt;
        let (layer, events) = layer();
        (tracing_subscriber::registry().with(layer), events)
    }

    #[derive(Default)]
    struct Fields {
        message: String,
        fields: Vec<(String, String)>,
    }

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            if field.name() == "message" {
                let _ = write!(self.message, "{value:?}");
            } else {
                self.fields
                    .push((field.name().to_string(), format!("{value:?}")));
            }
        }
    }

    impl<S: Subscriber> Layer<S> for CaptureLayer {
        fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
            let mut fields = Fields::default();
            event.record(&mut fields);
            let meta = event.metadata();
            let captured = Captured {
                level: *meta.level(),
                target: meta.target().to_string(),
                message: fields.message,
                fields: fields.fields,
            };
            (self.0)
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(captured);
        }
    }
}
