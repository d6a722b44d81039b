//! A tracked field is used exactly as the collection it wraps.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, LinkedList, VecDeque};
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, DefaultHasher};

use leakguard::{HeapSize, Tracked, track_growth};

#[track_growth]
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Inbox {
    /// The messages, oldest first.
    #[budget(len = 100)]
    pub messages: Vec<String>,
    #[budget(bytes = "64 KiB")]
    pub(crate) index: HashMap<u64, String>,
    #[track(skip)]
    scratch: Vec<u8>,
    count: u64,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct PlainInbox {
    pub messages: Vec<String>,
    pub(crate) index: HashMap<u64, String>,
    scratch: Vec<u8>,
    count: u64,
}

// Taking `&Vec` on purpose: a tracked field must coerce to exactly that.
#[allow(clippy::ptr_arg)]
fn total_len(messages: &Vec<String>) -> usize {
    messages.iter().map(String::len).sum()
}

fn first(messages: &[String]) -> Option<&String> {
    messages.first()
}

#[test]
fn fields_keep_their_collection_api() {
    let mut inbox = Inbox::default();
    inbox.messages.push("hello".to_string());
    inbox.messages.push("world".to_string());
    assert_eq!(inbox.messages.len(), 2);
    assert_eq!(inbox.messages.iter().count(), 2);
    assert_eq!(inbox.messages[1], "world");
    assert_eq!(&inbox.messages[..], ["hello", "world"]);
    assert_eq!(total_len(&inbox.messages), 10);
    assert_eq!(first(&inbox.messages).map(String::as_str), Some("hello"));
    let mut seen = Vec::new();
    for m in &inbox.messages {
        seen.push(m.clone());
    }
    assert_eq!(seen, ["hello", "world"]);
    inbox.messages[0].push('!');
    assert_eq!(inbox.messages[0], "hello!");
    for m in &mut inbox.messages {
        m.make_ascii_uppercase();
    }
    assert_eq!(*inbox.messages, ["HELLO!", "WORLD"]);

    assert_eq!(inbox.index.insert(7, "seven".to_string()), None);
    assert_eq!(
        inbox.index.insert(7, "SEVEN".to_string()).as_deref(),
        Some("seven")
    );
    assert_eq!(inbox.index.get(&7).map(String::as_str), Some("SEVEN"));
    assert!(inbox.index.contains_key(&7));
    assert_eq!(inbox.index.remove(&7).as_deref(), Some("SEVEN"));
    assert!(inbox.index.is_empty());

    inbox.messages.reserve(100);
    inbox.messages.shrink_to_fit();
    assert_eq!(inbox.messages.capacity(), 2);
    let owned: Vec<String> = inbox.messages.clone().into_iter().collect();
    assert_eq!(owned.len(), 2);
    let inner: Vec<String> = Tracked::into_inner(inbox.messages);
    assert_eq!(inner.len(), 2);
}

#[test]
fn debug_output_is_the_plain_structs() {
    let mut inbox = Inbox::default();
    let mut plain = PlainInbox::default();
    inbox.messages.push("a".into());
    plain.messages.push("a".into());
    inbox.index.insert(1, "b".into());
    plain.index.insert(1, "b".into());
    assert_eq!(
        format!("{inbox:?}"),
        format!("{plain:?}").replace("PlainInbox", "Inbox")
    );
    assert_eq!(
        format!("{inbox:#?}"),
        format!("{plain:#?}").replace("PlainInbox", "Inbox")
    );
}

#[test]
fn clone_and_eq_work_on_tracked_structs() {
    let mut a = Inbox::default();
    a.messages.push("x".into());
    let mut b = a.clone();
    assert_eq!(a, b);
    b.messages.push("y".into());
    assert_ne!(a, b);
    assert_eq!(a.messages.len(), 1);
}

#[test]
fn struct_literals_need_at_most_into_or_default() {
    let inbox = Inbox {
        messages: vec!["a".to_string()].into(),
        index: HashMap::from([(1, "one".to_string())]).into(),
        scratch: Vec::new(),
        count: 0,
    };
    assert_eq!(inbox.messages.len(), 1);
    let inbox = Inbox {
        messages: Default::default(),
        count: 3,
        ..Default::default()
    };
    assert_eq!(inbox.count, 3);
    let collected: Inbox = Inbox {
        messages: (0..3).map(|i| i.to_string()).collect(),
        ..Default::default()
    };
    assert_eq!(collected.messages.len(), 3);
}

#[test]
fn serde_derives_round_trip() {
    // `#[track_growth]` sits above `Deserialize`: see the README on derive order.
    #[derive(Debug, PartialEq, serde::Serialize)]
    #[track_growth]
    #[derive(serde::Deserialize)]
    struct Doc {
        tags: Vec<String>,
        #[serde(rename = "by_id")]
        index: HashMap<u32, String>,
    }
    let mut doc = Doc {
        tags: vec!["a".into()].into(),
        index: HashMap::new().into(),
    };
    doc.index.insert(1, "one".into());
    let json = serde_json::to_string(&doc).unwrap();
    assert_eq!(json, r#"{"tags":["a"],"by_id":{"1":"one"}}"#);
    let back: Doc = serde_json::from_str(&json).unwrap();
    assert_eq!(back, doc);
    assert_eq!(back.index.heap_size(), doc.index.heap_size());
}

/// Generic over a lifetime, a type and a const, with a where-clause.
#[track_growth(len = 10)]
#[derive(Debug)]
pub(crate) struct Window<'a, T: Clone, const N: usize>
where
    T: std::fmt::Debug,
{
    pub items: Vec<T>,
    borrowed: Vec<&'a str>,
    fixed: [u8; N],
}

impl<T: Clone + std::fmt::Debug + HeapSize, const N: usize> Window<'_, T, N> {
    fn add(&mut self, item: T) {
        self.items.push(item);
    }
}

#[test]
fn generics_lifetimes_and_where_clauses_are_preserved() {
    let text = String::from("borrowed");
    let mut w: Window<'_, String, 4> = Window {
        items: Vec::new().into(),
        borrowed: Default::default(),
        fixed: [0; 4],
    };
    w.add("x".repeat(10));
    w.borrowed.push(&text);
    assert_eq!(w.fixed, [0; 4]);
    assert_eq!(
        w.heap_size(),
        w.items.capacity() * 24 + 10 + w.borrowed.capacity() * 16
    );
}

/// A value type measured with a derive.
#[derive(Debug, Clone, PartialEq, HeapSize)]
pub struct Session {
    user: String,
    roles: Vec<String>,
    #[heap_size(skip)]
    started: std::time::Instant,
    #[heap_size(with = blob_size)]
    blob: Box<[u8]>,
}

fn blob_size(blob: &[u8]) -> usize {
    blob.len()
}

#[derive(HeapSize)]
pub enum Shape<T> {
    Point,
    Named(String),
    Many {
        items: Vec<T>,
        marker: std::marker::PhantomData<T>,
    },
}

type Sessions = HashMap<u64, Session>;

#[track_growth]
#[derive(Default)]
struct Server {
    /// A type alias: opted in with `#[track]`.
    #[track]
    #[budget(len = 2)]
    sessions: Sessions,
    /// A nested tracked struct.
    #[track]
    inbox: Inbox,
    /// A std map with a custom hasher.
    by_name: HashMap<String, u64, BuildHasherDefault<DefaultHasher>>,
}

#[test]
fn derived_and_nested_types_are_measured() {
    let session = Session {
        user: "ada".into(),
        roles: vec!["admin".into()],
        started: std::time::Instant::now(),
        blob: vec![0; 5].into_boxed_slice(),
    };
    assert_eq!(session.heap_size(), 3 + 24 + 5 + 5);
    assert_eq!(Shape::<u8>::Point.heap_size(), 0);
    assert_eq!(Shape::<u8>::Named("abc".into()).heap_size(), 3);
    let many = Shape::Many {
        items: vec![1u32, 2],
        marker: std::marker::PhantomData,
    };
    assert_eq!(many.heap_size(), 8);

    let mut server = Server::default();
    server.sessions.insert(1, session.clone());
    server.inbox.messages.push("hi".into());
    server.by_name.insert("ada".into(), 1);
    let expected =
        server.sessions.heap_size() + server.inbox.heap_size() + server.by_name.heap_size();
    assert_eq!(server.heap_size(), expected);
    assert_eq!(
        Tracked::bytes(&server.sessions),
        server.sessions.heap_size()
    );
    assert_eq!(Tracked::name(&server.sessions), "Server.sessions");
    assert_eq!(Tracked::name(&server.inbox), "Server.inbox");
}

/// Checks that the running figure agrees with a walk after every step.
macro_rules! agrees {
    ($field:expr) => {
        assert_eq!(
            Tracked::bytes(&$field),
            $field.heap_size(),
            "{}",
            Tracked::name(&$field)
        );
    };
}

#[track_growth]
#[derive(Default)]
struct Everything {
    vec: Vec<String>,
    deque: VecDeque<String>,
    map: HashMap<String, String>,
    set: HashSet<String>,
    tree: BTreeMap<u32, String>,
    tree_set: BTreeSet<String>,
    heap: BinaryHeap<String>,
    text: String,
    list: LinkedList<String>,
}

fn s(i: usize) -> String {
    "x".repeat(i % 37)
}

#[test]
fn running_figures_match_a_walk_for_every_collection() {
    let mut e = Everything::default();
    for i in 0..200 {
        e.vec.push(s(i));
        e.deque.push_back(s(i));
        e.deque.push_front(s(i + 1));
        e.map.insert(format!("k{i}"), s(i));
        e.set.insert(format!("k{i}"));
        e.tree.insert(i as u32, s(i));
        e.tree_set.insert(format!("k{i}"));
        e.heap.push(s(i));
        e.list.push_back(s(i));
        write!(e.text, "{i},").unwrap();
    }
    agrees!(e.vec);
    agrees!(e.deque);
    agrees!(e.map);
    agrees!(e.set);
    agrees!(e.tree);
    agrees!(e.tree_set);
    agrees!(e.heap);
    agrees!(e.text);
    agrees!(e.list);

    e.vec.insert(3, s(30));
    e.vec.remove(5);
    e.vec.swap_remove(7);
    e.vec.retain(|v| v.len() % 3 != 0);
    e.vec.truncate(50);
    e.vec.drain(10..20);
    e.vec.extend_from_slice(&[s(1), s(2)]);
    e.vec.resize(80, s(9));
    let mut more = vec![s(11), s(12)];
    e.vec.append(&mut more);
    let tail = e.vec.split_off(70);
    assert_eq!(tail.len(), 12);
    agrees!(e.vec);

    e.deque.pop_front();
    e.deque.pop_back();
    e.deque.remove(3);
    e.deque.truncate(100);
    e.deque.drain(..10);
    e.deque.retain(|v| !v.is_empty());
    agrees!(e.deque);

    e.map.insert("k3".into(), s(36));
    e.map.remove("k4");
    e.map.retain(|k, _| k.len() < 4);
    e.map.extend([("new".to_string(), s(20))]);
    agrees!(e.map);
    e.map.drain();
    agrees!(e.map);

    assert!(!e.set.insert("k1".into()));
    e.set.replace("k2".into());
    e.set.remove("k3");
    e.set.take("k5");
    e.set.retain(|k| k.ends_with('1'));
    agrees!(e.set);

    e.tree.insert(3, s(36));
    e.tree.remove(&4);
    e.tree.pop_first();
    e.tree.pop_last();
    e.tree.retain(|k, _| k % 2 == 0);
    let split = e.tree.split_off(&100);
    assert!(!split.is_empty());
    agrees!(e.tree);

    e.tree_set.remove("k1");
    e.tree_set.pop_first();
    e.tree_set.retain(|k| k.len() == 3);
    agrees!(e.tree_set);

    e.heap.pop();
    e.heap.retain(|v| v.len() > 5);
    agrees!(e.heap);

    e.text.truncate(10);
    e.text.push_str("abc");
    e.text.insert(0, '>');
    e.text.pop();
    e.text += "tail";
    e.text.shrink_to_fit();
    agrees!(e.text);

    e.list.pop_front();
    e.list.pop_back();
    e.list.split_off(10);
    agrees!(e.list);

    e.vec.clear();
    e.deque.clear();
    e.set.clear();
    e.tree.clear();
    e.heap.clear();
    e.list.clear();
    agrees!(e.vec);
    agrees!(e.deque);
    agrees!(e.set);
    agrees!(e.tree);
    agrees!(e.heap);
    agrees!(e.list);
}
