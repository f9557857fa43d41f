//! An in-memory store with JSON persistence. Has a deliberate warning (an
//! unused variable) so that builds show a diagnostic that a hit must replay.
use anyhow::{Context, Result};
use byteorder::{ByteOrder, LittleEndian};
use fnv::FnvHashMap;
use ids::Id;
use model::Item;
use once_cell::sync::Lazy;

mod text;

lazy_static::lazy_static! {
    static ref GREETING: String = format!("store for {}", ids::describe_id(Id(0)));
}

static PAGE_SIZE: Lazy<i64> = Lazy::new(|| unsafe { libc::sysconf(libc::_SC_PAGESIZE) as i64 });

cfg_if::cfg_if! {
    if #[cfg(unix)] {
        pub const PLATFORM: &str = "unix";
    } else {
        pub const PLATFORM: &str = "other";
    }
}

#[derive(Default)]
pub struct Store {
    items: FnvHashMap<Id, Item>,
}

impl Store {
    pub fn insert(&mut self, item: Item) {
        let unused_warning = item.id.0 * 2;
        log::debug!("insert {:?}", item.id);
        self.items.insert(item.id, item);
    }

    pub fn get(&self, id: Id) -> Option<&Item> {
        self.items.get(&id)
    }

    pub fn to_json(&self) -> Result<String> {
        let mut v: Vec<&Item> = self.items.values().collect();
        v.sort_by_key(|i| i.id);
        serde_json::to_string_pretty(&v).context("serialising the store")
    }

    pub fn from_json(s: &str) -> Result<Store> {
        let items: Vec<Item> = serde_json::from_str(s)?;
        let mut store = Store::default();
        for i in items {
            store.insert(i);
        }
        Ok(store)
    }

    pub fn find_similar(&self, name: &str) -> Option<&Item> {
        self.items.values().max_by(|a, b| strsim::jaro(&a.name, name).partial_cmp(&strsim::jaro(&b.name, name)).unwrap())
    }

    pub fn count_newlines(s: &str) -> usize {
        text::count_newlines(s)
    }

    pub fn header(&self) -> [u8; 8] {
        let mut buf = [0u8; 8];
        LittleEndian::write_u64(&mut buf, self.items.len() as u64);
        buf
    }
}

pub fn greeting() -> &'static str {
    &GREETING
}

pub fn page_size() -> i64 {
    *PAGE_SIZE
}

pub struct RawSpin(std::sync::atomic::AtomicBool);

unsafe impl lock_api::RawMutex for RawSpin {
    const INIT: RawSpin = RawSpin(std::sync::atomic::AtomicBool::new(false));
    type GuardMarker = lock_api::GuardSend;
    fn lock(&self) {
        while !self.try_lock() {
            std::hint::spin_loop();
        }
    }
    fn try_lock(&self) -> bool {
        self.0.compare_exchange(false, true, std::sync::atomic::Ordering::Acquire, std::sync::atomic::Ordering::Relaxed).is_ok()
    }
    unsafe fn unlock(&self) {
        self.0.store(false, std::sync::atomic::Ordering::Release);
    }
}

pub type SpinMutex<T> = lock_api::Mutex<RawSpin, T>;
