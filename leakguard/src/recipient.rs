//! The subscriber a finding is for: the one current on the thread where what it is about was
//! made or raised, so that a test's own subscriber sees what its own code caused. Kept
//! weakly: a subscriber that ended is let go, and what was for it goes nowhere.

use std::fmt;

use tracing::dispatcher::{self, Dispatch, WeakDispatch};
use tracing::subscriber::NoSubscriber;

/// A subscriber findings go to, or none.
#[derive(Clone, Default)]
pub(crate) struct Recipient(Option<WeakDispatch>);

impl Recipient {
    /// No subscriber.
    pub(crate) const NONE: Recipient = Recipient(None);

    /// This thread's subscriber; none where there is none, and inside the dispatch of
    /// another event, where `tracing` hands out none.
    pub(crate) fn current() -> Recipient {
        dispatcher::get_default(Recipient::of)
    }

    /// The subscriber of `dispatch`, none for the no-op one.
    pub(crate) fn of(dispatch: &Dispatch) -> Recipient {
        Recipient((!dispatch.is::<NoSubscriber>()).then(|| dispatch.downgrade()))
    }

    /// Whether there is a subscriber, alive or not.
    pub(crate) fn is_some(&self) -> bool {
        self.0.is_some()
    }

    /// The subscriber, if it is still alive.
    pub(crate) fn dispatch(&self) -> Option<Dispatch> {
        self.0.as_ref()?.upgrade()
    }

    /// Which subscriber it is, while it is alive: the same for every handle to one
    /// subscriber, scoped or made the global default. `None` for one that ended, and for one
    /// not built on a `tracing_subscriber` registry, which cannot be told from others.
    pub(crate) fn identity(&self) -> Option<Identity> {
        identity(&self.dispatch()?)
    }
}

impl Recipient {
    /// Whether `self` and `other` are one subscriber, alive and told apart by its registry,
    /// or both none. The handles it takes to tell go to `held`, to be dropped where the
    /// caller holds no lock: the last handle to a subscriber drops it, and its fields.
    pub(crate) fn is(&self, other: &Recipient, held: &mut Vec<Dispatch>) -> bool {
        match (self.is_some(), other.is_some()) {
            (false, false) => true,
            (true, true) => {
                let (Some(one), Some(two)) = (self.dispatch(), other.dispatch()) else {
                    return false;
                };
                let same = identity(&one).is_some_and(|id| identity(&two) == Some(id));
                held.extend([one, two]);
                same
            }
            _ => false,
        }
    }
}

/// Tells one live subscriber from another.
pub(crate) type Identity = usize;

/// The identity of the subscriber of `dispatch`: the address of its registry, which every
/// subscriber leakguard's layer can join has (the layer needs its span lookup). `tracing`
/// offers no equality of dispatchers, and their `Debug` prints where the handle is, not
/// the subscriber.
pub(crate) fn identity(dispatch: &Dispatch) -> Option<Identity> {
    dispatch
        .downcast_ref::<tracing_subscriber::Registry>()
        .map(|registry| std::ptr::from_ref(registry) as usize)
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Recipient").field(&self.identity()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscriber() -> Dispatch {
        Dispatch::new(tracing_subscriber::registry())
    }

    #[test]
    fn every_handle_to_one_subscriber_has_its_identity_and_others_differ() {
        let one = subscriber();
        let other = subscriber();
        let of_one = Recipient::of(&one);
        assert!(of_one.identity().is_some());
        assert_eq!(Recipient::of(&one.clone()).identity(), of_one.identity());
        assert_eq!(of_one.clone().identity(), of_one.identity());
        assert_ne!(Recipient::of(&other).identity(), of_one.identity());
        assert!(!Recipient::of(&Dispatch::none()).is_some());
    }

    #[test]
    fn the_current_recipient_is_the_default_subscriber() {
        let one = subscriber();
        dispatcher::with_default(&one, || {
            assert_eq!(Recipient::current().identity(), identity(&one));
            let held = &mut Vec::new();
            assert!(Recipient::current().is(&Recipient::of(&one), held));
            assert!(!Recipient::current().is(&Recipient::of(&subscriber()), held));
        });
        let held = &mut Vec::new();
        assert!(Recipient::default().is(&Recipient::default(), held));
        assert!(!Recipient::default().is(&Recipient::of(&one), held));
    }

    #[test]
    fn a_recipient_lets_its_subscriber_go() {
        let one = subscriber();
        let recipient = Recipient::of(&one);
        assert!(recipient.dispatch().is_some());
        drop(one);
        assert!(recipient.is_some());
        assert!(recipient.dispatch().is_none());
        assert_eq!(recipient.identity(), None);
    }
}
