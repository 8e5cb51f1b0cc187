//! One libvirt connection per hypervisor URI, owned by a dedicated OS thread.
//!
//! libvirt's client library blocks on every call (an RPC to the daemon). A [`Hypervisor`]
//! starts one thread that owns the `virt::connect::Connect`, opens it on the first call,
//! and runs the calls sent to it one after the other. Async callers send a closure over a
//! bounded channel and await its result on a oneshot channel, so no tokio worker ever
//! blocks on libvirt, and a slow daemon shows as callers waiting to send rather than as
//! a queue growing without bound. The connection is opened again when libvirt reports it
//! dead (daemon restarted, SSH tunnel gone).
//!
//! Listings are cached per hypervisor, "fill once, read many": the first reader lists,
//! concurrent first readers wait for that one listing, and later reads are answered from
//! memory. The cache is changed by the calls themselves, on the connection's thread, so
//! it follows rack's own writes in the order libvirt saw them.
//!
//! Calls that take long inside libvirtd and touch neither the caches nor anything other
//! calls read and write (defining and starting a new domain: QEMU's start-up; writing
//! its cloud-init seed)
//! can instead run on the side lane ([`Hypervisor::call_parallel`]): up to
//! [`PARALLEL_CALLS`] at once on blocking threads, spread over [`SIDE_CONNECTIONS`]
//! connections of their own, so ten VMs start together as they would from ten `virsh`
//! shells.

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use virt::connect::Connect;

use super::error::{LibvirtError, ObjectKind, classify, known};

/// Calls that may wait for a connection's thread. The thread runs one call at a time,
/// so more waiting calls only hold memory and hide a stuck daemon; this many covers
/// Terraform's default parallelism (10) with room for reads issued beside it.
pub const MAX_CALLS_IN_FLIGHT: usize = 32;

/// Side-lane calls in flight at once: Terraform's default parallelism.
pub const PARALLEL_CALLS: usize = 10;

/// Connections the side lane spreads its calls over. libvirtd serves at most 5 requests
/// of one client connection at a time by default (`max_client_requests`); each call goes
/// to the connection with the fewest in flight, so no connection carries more than 4.
pub const SIDE_CONNECTIONS: usize = 3;

/// How long a caller waits for the answer to one call (queueing included) before
/// giving up; the thread itself cannot be interrupted inside libvirt.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(120);

type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// The connection as the thread holds it.
struct Session {
    uri: String,
    conn: Option<Connect>,
}

impl Session {
    fn link(&mut self) -> Result<Link<'_>, LibvirtError> {
        if let Some(conn) = &self.conn
            && !conn.is_alive().unwrap_or(false)
        {
            self.conn = None;
        }
        if self.conn.is_none() {
            self.conn = Some(open(&self.uri)?);
        }
        match &self.conn {
            Some(conn) => Ok(Link {
                conn,
                uri: &self.uri,
            }),
            None => Err(LibvirtError::WorkerGone {
                uri: self.uri.clone(),
            }),
        }
    }
}

/// The side lane's connections, each opened on first use and again when libvirt
/// reports it dead, and the calls each carries now.
#[derive(Default)]
struct Side {
    conns: [Option<Arc<Connect>>; SIDE_CONNECTIONS],
    busy: [usize; SIDE_CONNECTIONS],
}

/// A side connection lent to one call; gives its place back when dropped.
struct SideLease<'a> {
    inner: &'a Inner,
    index: usize,
    conn: Arc<Connect>,
}

impl SideLease<'_> {
    /// The least busy side connection. Blocking (it may open the connection).
    fn take(inner: &Inner) -> Result<SideLease<'_>, LibvirtError> {
        let mut side = inner.side.lock().unwrap_or_else(|p| p.into_inner());
        let index = (0..SIDE_CONNECTIONS)
            .min_by_key(|&i| side.busy[i])
            .unwrap_or(0);
        let alive = side.conns[index]
            .as_ref()
            .filter(|c| c.is_alive().unwrap_or(false))
            .cloned();
        let conn = match alive {
            Some(conn) => conn,
            None => {
                let conn = Arc::new(open(&inner.uri)?);
                side.conns[index] = Some(conn.clone());
                conn
            }
        };
        side.busy[index] += 1;
        Ok(SideLease { inner, index, conn })
    }

    /// Forgets the connection (libvirt reported it lost): the next call opens another.
    fn lost(&self) {
        let mut side = self.inner.side.lock().unwrap_or_else(|p| p.into_inner());
        if side.conns[self.index]
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, &self.conn))
        {
            side.conns[self.index] = None;
        }
    }
}

impl Drop for SideLease<'_> {
    fn drop(&mut self) {
        let mut side = self.inner.side.lock().unwrap_or_else(|p| p.into_inner());
        side.busy[self.index] = side.busy[self.index].saturating_sub(1);
    }
}

/// A new connection to `uri`. Blocking.
fn open(uri: &str) -> Result<Connect, LibvirtError> {
    Connect::open(Some(uri)).map_err(|source| LibvirtError::Connect {
        uri: uri.to_owned(),
        hint: connect_hint(uri, &source),
        source,
    })
}

/// What to check when a connection cannot be opened, by the URI's transport.
fn connect_hint(uri: &str, e: &virt::error::Error) -> String {
    use virt::error::ErrorNumber;
    let denied = matches!(
        known(e),
        Some(
            ErrorNumber::AuthFailed
                | ErrorNumber::AuthCancelled
                | ErrorNumber::AuthUnavailable
                | ErrorNumber::OperationDenied
                | ErrorNumber::AccessDenied
        )
    ) || e.message().contains("Permission denied");
    if denied {
        return "check that this user may use the daemon's socket (root or the libvirt group \
                for qemu:///system) and the polkit or SASL setup"
            .to_owned();
    }
    let transport = uri
        .split("://")
        .next()
        .and_then(|scheme| scheme.split_once('+'))
        .map(|(_, t)| t);
    match transport {
        Some("ssh") => "check the URI, that `ssh` reaches the host without a password prompt \
                        (keys, ~/.ssh/config), and that libvirtd or virtqemud runs there"
            .to_owned(),
        Some("tls") => "check the URI, the host's TLS port (16514), and the client \
                        certificate and CA under /etc/pki"
            .to_owned(),
        _ => "check the URI (e.g. qemu:///system) and that libvirtd or virtqemud runs and \
              listens on its socket"
            .to_owned(),
    }
}

/// The open connection, lent to one call on the thread.
pub(crate) struct Link<'a> {
    conn: &'a Connect,
    uri: &'a str,
}

impl Link<'_> {
    pub(crate) fn conn(&self) -> &Connect {
        self.conn
    }

    pub(crate) fn uri(&self) -> &str {
        self.uri
    }

    /// Maps a libvirt error of `action` to a [`LibvirtError`] that says what to check.
    pub(crate) fn fail(&self, action: impl Into<String>, e: virt::error::Error) -> LibvirtError {
        classify(self.uri, action.into(), None, e)
    }
}

/// A "fill once, read many" listing of one kind of object, by name.
#[derive(Debug)]
pub(crate) struct Listing<T> {
    filled: Mutex<Option<BTreeMap<String, T>>>,
    fill: tokio::sync::Mutex<()>,
}

impl<T> Default for Listing<T> {
    fn default() -> Self {
        Self {
            filled: Mutex::new(None),
            fill: tokio::sync::Mutex::new(()),
        }
    }
}

impl<T: Clone> Listing<T> {
    fn lock(&self) -> MutexGuard<'_, Option<BTreeMap<String, T>>> {
        crate::sync::lock(&self.filled)
    }

    /// Everything, if the listing was filled.
    pub(crate) fn values(&self) -> Option<Vec<T>> {
        self.lock().as_ref().map(|m| m.values().cloned().collect())
    }

    /// One entry (`None` also when the listing is not filled).
    pub(crate) fn get(&self, name: &str) -> Option<T> {
        self.lock().as_ref().and_then(|m| m.get(name).cloned())
    }

    /// Serialises fillers, so that concurrent first readers share one listing.
    pub(crate) async fn fill_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.fill.lock().await
    }

    /// Replaces the whole listing (on the connection's thread).
    pub(crate) fn fill(&self, entries: impl IntoIterator<Item = (String, T)>) {
        *self.lock() = Some(entries.into_iter().collect());
    }

    /// Records one object as read or written (on the connection's thread); ignored until
    /// the listing is filled, since the fill will read it anyway.
    pub(crate) fn put(&self, name: &str, value: T) {
        if let Some(m) = self.lock().as_mut() {
            m.insert(name.to_owned(), value);
        }
    }

    /// [`Listing::put`], handing `value` back: the usual last step of a write.
    pub(crate) fn kept(&self, name: &str, value: T) -> T {
        self.put(name, value.clone());
        value
    }

    /// Records that an object is gone (on the connection's thread).
    pub(crate) fn remove(&self, name: &str) {
        if let Some(m) = self.lock().as_mut() {
            m.remove(name);
        }
    }
}

/// A kind of object a hypervisor lists "fill once, read many" (networks, pools, VMs): the
/// state rack reads of one, and the libvirt calls that list, find and read them.
pub(crate) trait Listed: Clone + Send + Sync + Sized + 'static {
    /// The libvirt object the state is read from.
    type Object: 'static;
    /// The listing call, as errors name it ("list networks").
    const LIST: &'static str;
    /// The kind, as errors name one object ("network").
    const NOUN: &'static str;

    /// Every object of the kind.
    fn list(conn: &Connect) -> Result<Vec<Self::Object>, virt::error::Error>;
    /// The object called `name`, if there is one.
    fn lookup(link: &Link<'_>, name: &str) -> Result<Option<Self::Object>, LibvirtError>;
    /// Its state.
    fn read(link: &Link<'_>, object: &Self::Object) -> Result<Self, LibvirtError>;
    /// The name the listing files it under.
    fn name(&self) -> &str;
}

/// Implements [`Listed`] for one kind's state (its listing call, lookup by name and read)
/// and gives [`Hypervisor`] the kind's listing methods: the crate's handle on the cache,
/// and the public "every object", "list again", "one from the cache" and "one read now".
macro_rules! listed_kind {
    (
        $state:ty, $object:ty,
        list: $list:literal, noun: $noun:literal, plural: $plural:literal,
        list_all: $list_all:ident,
        lookup: $lookup:path,
        read: $read:path,
        cache: $cache_vis:vis $cache:ident,
        methods: $all:ident, $refresh:ident, $one:ident, $fresh:ident $(,)?
    ) => {
        const _: () = {
            use ::std::sync::Arc;
            use ::virt::connect::Connect;
            use $crate::libvirt::connection::{Hypervisor, Link, Listed, Listing};
            use $crate::libvirt::error::LibvirtError;

            impl Listed for $state {
                type Object = $object;
                const LIST: &'static str = $list;
                const NOUN: &'static str = $noun;

                fn list(conn: &Connect) -> Result<Vec<$object>, ::virt::error::Error> {
                    conn.$list_all(0)
                }

                fn lookup(link: &Link<'_>, name: &str) -> Result<Option<$object>, LibvirtError> {
                    $lookup(link, name)
                }

                fn read(link: &Link<'_>, object: &$object) -> Result<Self, LibvirtError> {
                    $read(link, object)
                }

                fn name(&self) -> &str {
                    &self.name
                }
            }

            impl Hypervisor {
                #[doc = concat!("This hypervisor's listing of ", $plural, ".")]
                $cache_vis fn $cache(&self) -> Arc<Listing<$state>> {
                    self.cache()
                }

                #[doc = concat!(
                    "Every ", $noun, " on the hypervisor. The first call lists them (one ",
                    "round trip to the connection's thread); later calls answer from the ",
                    "cache, which rack's own writes keep current. [`Hypervisor::",
                    stringify!($refresh), "`] lists again."
                )]
                pub async fn $all(&self) -> Result<Vec<$state>, LibvirtError> {
                    self.listed(false).await
                }

                #[doc = concat!("Lists the ", $plural, " again, replacing the cache.")]
                pub async fn $refresh(&self) -> Result<Vec<$state>, LibvirtError> {
                    self.listed(true).await
                }

                #[doc = concat!(
                    "One ", $noun, " from the cache (filled by [`Hypervisor::",
                    stringify!($all), "`] on first use); `None` if it does not exist."
                )]
                pub async fn $one(&self, name: &str) -> Result<Option<$state>, LibvirtError> {
                    self.listed_one(name).await
                }

                #[doc = concat!(
                    "One ", $noun, " read from libvirt now, bypassing the cache (and ",
                    "updating it): for import, and to confirm drift before acting on it."
                )]
                pub async fn $fresh(&self, name: &str) -> Result<Option<$state>, LibvirtError> {
                    self.listed_fresh(name).await
                }
            }
        };
    };
}
pub(crate) use listed_kind;

/// Work handed to the connection's thread or the side lane: runs once with the
/// connection and answers with its result.
pub(crate) trait LinkWork<T>:
    FnOnce(&Link<'_>) -> Result<T, LibvirtError> + Send + 'static
{
}

impl<T, F> LinkWork<T> for F where F: FnOnce(&Link<'_>) -> Result<T, LibvirtError> + Send + 'static {}

/// "Fill once, read many" listings of one kind of object that lives inside another (a
/// volume in its pool), one listing per container, by the container's name.
#[derive(Debug)]
pub(crate) struct ScopedListings<T> {
    by_scope: Mutex<BTreeMap<String, Arc<Listing<T>>>>,
}

impl<T> Default for ScopedListings<T> {
    fn default() -> Self {
        Self {
            by_scope: Mutex::new(BTreeMap::new()),
        }
    }
}

impl<T> ScopedListings<T> {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Arc<Listing<T>>>> {
        crate::sync::lock(&self.by_scope)
    }

    /// The listing inside `scope` (created empty on first use).
    pub(crate) fn scope(&self, scope: &str) -> Arc<Listing<T>> {
        self.lock().entry(scope.to_owned()).or_default().clone()
    }
}

/// A cache of objects that live inside a container, told when a container is gone.
trait ScopedCache: Send + Sync {
    /// Drops what was cached inside `scope`.
    fn forget(&self, scope: &str);
}

impl<T: Send> ScopedCache for ScopedListings<T> {
    fn forget(&self, scope: &str) {
        self.lock().remove(scope);
    }
}

/// The caches of one hypervisor, one per type, each created on first use by the module
/// that owns it. This layer knows none of them.
#[derive(Default)]
pub(crate) struct Caches {
    slots: Mutex<Slots>,
}

#[derive(Default)]
struct Slots {
    by_type: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    scoped: Vec<Arc<dyn ScopedCache>>,
}

impl Caches {
    fn lock(&self) -> MutexGuard<'_, Slots> {
        crate::sync::lock(&self.slots)
    }

    /// The cache of type `C` (created empty on first use).
    pub(crate) fn get<C: Default + Send + Sync + 'static>(&self) -> Arc<C> {
        let mut slots = self.lock();
        let slot = slots
            .by_type
            .entry(TypeId::of::<C>())
            .or_insert_with(|| Arc::new(C::default()))
            .clone();
        slot.downcast::<C>()
            .unwrap_or_else(|_| Arc::new(C::default()))
    }

    /// The listings of `T` per container (created empty on first use); they are
    /// dropped for a container by [`Caches::forget_scope`].
    pub(crate) fn scoped<T: Send + Sync + 'static>(&self) -> Arc<ScopedListings<T>> {
        let mut slots = self.lock();
        if let Some(slot) = slots.by_type.get(&TypeId::of::<ScopedListings<T>>())
            && let Ok(listings) = slot.clone().downcast::<ScopedListings<T>>()
        {
            return listings;
        }
        let listings = Arc::new(ScopedListings::<T>::default());
        slots
            .by_type
            .insert(TypeId::of::<ScopedListings<T>>(), listings.clone());
        slots.scoped.push(listings.clone());
        listings
    }

    /// Drops every listing inside the container `scope` (it is gone).
    pub(crate) fn forget_scope(&self, scope: &str) {
        let scoped = self.lock().scoped.clone();
        for cache in scoped {
            cache.forget(scope);
        }
    }
}

struct Inner {
    uri: String,
    jobs: mpsc::Sender<Job>,
    timeout: Duration,
    /// The side lane's connections and its slots.
    side: Mutex<Side>,
    side_slots: Arc<tokio::sync::Semaphore>,
    /// The caches of the object kinds built on this layer.
    caches: Arc<Caches>,
}

/// A handle on one hypervisor (libvirt URI). Cheap to clone; the clones share the
/// connection, its thread and the caches. The thread ends when the last clone is dropped.
#[derive(Clone)]
pub struct Hypervisor {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Hypervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hypervisor")
            .field("uri", &self.inner.uri)
            .finish_non_exhaustive()
    }
}

impl Hypervisor {
    /// A handle for `uri` (e.g. `qemu:///system`, `qemu+ssh://root@host/system`). Loads
    /// libvirt's client library if no handle did yet and starts the connection's thread;
    /// the connection itself is opened by the first call.
    pub fn new(uri: impl Into<String>) -> Result<Self, LibvirtError> {
        Self::with_timeout(uri, DEFAULT_CALL_TIMEOUT)
    }

    /// Like [`Hypervisor::new`], waiting at most `timeout` for each call's answer.
    pub fn with_timeout(uri: impl Into<String>, timeout: Duration) -> Result<Self, LibvirtError> {
        let uri = uri.into();
        super::on_demand::load().map_err(|reason| LibvirtError::Library {
            uri: uri.clone(),
            reason,
        })?;
        let (jobs, mut rx) = mpsc::channel::<Job>(MAX_CALLS_IN_FLIGHT);
        let mut session = Session {
            uri: uri.clone(),
            conn: None,
        };
        std::thread::Builder::new()
            .name("libvirt".to_owned())
            .spawn(move || {
                // libvirt prints every error on stderr unless told otherwise; ours are
                // returned to the callers instead.
                virt::error::clear_error_callback();
                while let Some(job) = rx.blocking_recv() {
                    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut session)));
                    if outcome.is_err() {
                        // The caller sees its answer channel closed; start afresh.
                        session.conn = None;
                    }
                }
            })
            .map_err(|source| LibvirtError::Thread {
                uri: uri.clone(),
                source: Arc::new(source),
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                uri,
                jobs,
                timeout,
                side: Mutex::default(),
                side_slots: Arc::new(tokio::sync::Semaphore::new(PARALLEL_CALLS)),
                caches: Arc::default(),
            }),
        })
    }

    /// The URI this handle connects to.
    pub fn uri(&self) -> &str {
        &self.inner.uri
    }

    /// The cache of type `C` of this hypervisor (created empty on first use).
    pub(crate) fn cache<C: Default + Send + Sync + 'static>(&self) -> Arc<C> {
        self.inner.caches.get()
    }

    /// The caches of this hypervisor, for calls that change them on the connection's
    /// thread.
    pub(crate) fn caches(&self) -> Arc<Caches> {
        self.inner.caches.clone()
    }

    /// Opens a connection of its own to this hypervisor, for work that would hold the
    /// shared connection's thread too long (streaming a volume's content). Blocking: call
    /// it where blocking is allowed, and use the connection on that thread only.
    pub(crate) fn open_dedicated(&self) -> Result<Connect, LibvirtError> {
        open(&self.inner.uri)
    }

    /// Runs `f` with the connection on the connection's thread and returns its result.
    /// `action` names the call in errors ("define network \"x\"").
    pub(crate) async fn call<T: Send + 'static, F: LinkWork<T>>(
        &self,
        action: impl Into<String>,
        f: F,
    ) -> Result<T, LibvirtError> {
        let uri = &self.inner.uri;
        let action = action.into();
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |session: &mut Session| {
            let result = session.link().and_then(|link| f(&link));
            let lost = matches!(&result, Err(e) if e.connection_lost());
            if lost {
                session.conn = None;
            }
            let _ = tx.send(result);
        });
        let answer = async {
            self.inner
                .jobs
                .send(job)
                .await
                .map_err(|_| LibvirtError::WorkerGone { uri: uri.clone() })?;
            rx.await
                .map_err(|_| LibvirtError::WorkerGone { uri: uri.clone() })?
        };
        self.within_timeout(action, answer).await
    }

    /// `answer`, or [`LibvirtError::Timeout`] naming `action` once the hypervisor's
    /// timeout has passed.
    async fn within_timeout<T>(
        &self,
        action: String,
        answer: impl Future<Output = Result<T, LibvirtError>>,
    ) -> Result<T, LibvirtError> {
        match tokio::time::timeout(self.inner.timeout, answer).await {
            Ok(result) => result,
            Err(_) => Err(LibvirtError::Timeout {
                uri: self.inner.uri.clone(),
                action,
                timeout: self.inner.timeout,
            }),
        }
    }

    /// Runs `f` on the side lane: on a blocking thread, with a side connection, beside
    /// the connection's thread and up to [`PARALLEL_CALLS`] - 1 other side calls. For
    /// calls that only wait on libvirtd for one object of their own (a domain's start):
    /// `f` must not touch the caches, nor read-modify-write anything shared (a network's
    /// hosts), since nothing orders it against other calls. The timeout counts from the
    /// call, waiting for a slot included.
    pub(crate) async fn call_parallel<T: Send + 'static, F: LinkWork<T>>(
        &self,
        action: impl Into<String>,
        f: F,
    ) -> Result<T, LibvirtError> {
        let inner = self.inner.clone();
        let uri = inner.uri.clone();
        let answer = async move {
            let gone = || LibvirtError::WorkerGone { uri: uri.clone() };
            let permit = inner
                .side_slots
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| gone())?;
            let task = tokio::task::spawn_blocking(move || {
                let _slot = permit;
                let lease = SideLease::take(&inner)?;
                let link = Link {
                    conn: &lease.conn,
                    uri: &inner.uri,
                };
                let result = f(&link);
                if matches!(&result, Err(e) if e.connection_lost()) {
                    lease.lost();
                }
                result
            });
            // A panic in `f` fails this call alone, as on the connection's thread.
            task.await.map_err(|_| gone())?
        };
        self.within_timeout(action.into(), answer).await
    }

    /// Every object of one kind, "fill once, read many": the first caller lists them with
    /// `list` and reads each with `read` on the connection's thread, concurrent first
    /// callers wait for that one listing, later callers get `cache`'s copy. `refresh`
    /// lists again. Objects undefined between the listing and their read are left out.
    pub(crate) async fn listing<T, O>(
        &self,
        cache: Arc<Listing<T>>,
        refresh: bool,
        action: &'static str,
        list: fn(&Connect) -> Result<Vec<O>, virt::error::Error>,
        read: fn(&Link<'_>, &O) -> Result<T, LibvirtError>,
        name: fn(&T) -> &str,
    ) -> Result<Vec<T>, LibvirtError>
    where
        T: Clone + Send + 'static,
        O: 'static,
    {
        if !refresh && let Some(values) = cache.values() {
            return Ok(values);
        }
        let _fill = cache.fill_lock().await;
        if !refresh && let Some(values) = cache.values() {
            return Ok(values);
        }
        let store = cache.clone();
        self.call(action, move |link| {
            let objects = list(link.conn()).map_err(|e| link.fail(action, e))?;
            let mut states = Vec::with_capacity(objects.len());
            for object in &objects {
                match read(link, object) {
                    Ok(s) => states.push(s),
                    Err(LibvirtError::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            states.sort_by(|a, b| name(a).cmp(name(b)));
            store.fill(states.iter().map(|s| (name(s).to_owned(), s.clone())));
            Ok(states)
        })
        .await
    }

    /// Every object of kind `T`, from the listing filled on first use and kept by rack's
    /// own writes; `refresh` lists again.
    pub(crate) async fn listed<T: Listed>(&self, refresh: bool) -> Result<Vec<T>, LibvirtError> {
        let cache = self.cache::<Listing<T>>();
        self.listing(cache, refresh, T::LIST, T::list, T::read, T::name)
            .await
    }

    /// One object of kind `T` from the listing (filled on first use); `None` if it does
    /// not exist.
    pub(crate) async fn listed_one<T: Listed>(
        &self,
        name: &str,
    ) -> Result<Option<T>, LibvirtError> {
        self.listed::<T>(false).await?;
        Ok(self.cache::<Listing<T>>().get(name))
    }

    /// One object of kind `T` read from libvirt now, bypassing the listing and updating it.
    pub(crate) async fn listed_fresh<T: Listed>(
        &self,
        name: &str,
    ) -> Result<Option<T>, LibvirtError> {
        let action = format!("read {} {name:?}", T::NOUN);
        let cache = self.cache::<Listing<T>>();
        self.read_one(cache, action, name, T::lookup, T::read).await
    }

    /// One object read from libvirt now, bypassing `cache` and updating it: `None` when
    /// `lookup` finds nothing or it vanishes before `read`.
    pub(crate) async fn read_one<T, O>(
        &self,
        cache: Arc<Listing<T>>,
        action: String,
        name: &str,
        lookup: fn(&Link<'_>, &str) -> Result<Option<O>, LibvirtError>,
        read: fn(&Link<'_>, &O) -> Result<T, LibvirtError>,
    ) -> Result<Option<T>, LibvirtError>
    where
        T: Clone + Send + 'static,
        O: 'static,
    {
        let name = name.to_owned();
        self.call(action, move |link| {
            let state = match lookup(link, &name)? {
                Some(object) => match read(link, &object) {
                    Ok(s) => Some(s),
                    Err(LibvirtError::NotFound { .. }) => None,
                    Err(e) => return Err(e),
                },
                None => None,
            };
            match &state {
                Some(s) => cache.put(&name, s.clone()),
                None => cache.remove(&name),
            }
            Ok(state)
        })
        .await
    }

    /// Opens the connection if it is not open, and returns libvirt's idea of the URI
    /// and the daemon's version (`major * 1_000_000 + minor * 1000 + release`).
    pub async fn ping(&self) -> Result<(String, u32), LibvirtError> {
        self.call("connect", |link| {
            let uri = link
                .conn()
                .uri()
                .map_err(|e| link.fail("read the connection's URI", e))?;
            let version = link
                .conn()
                .lib_version()
                .map_err(|e| link.fail("read the daemon's version", e))?;
            Ok((uri, version))
        })
        .await
    }
}

/// [`LibvirtError::NotFound`] for the object `name` of `kind` on `link`'s hypervisor.
pub(crate) fn not_found(link: &Link<'_>, kind: ObjectKind, name: String) -> LibvirtError {
    LibvirtError::NotFound {
        uri: link.uri().to_owned(),
        kind,
        name,
    }
}

#[cfg(test)]
mod tests {
    //! The thread and channel against libvirt's in-process test driver (`test:///default`,
    //! no daemon). The real daemon is exercised in `tests/libvirt`.

    use super::*;

    #[tokio::test]
    async fn connects_lazily_and_runs_calls_on_its_thread() {
        let hv = Hypervisor::new("test:///default").unwrap();
        let caller = std::thread::current().id();
        let (uri, _) = hv.ping().await.unwrap();
        assert_eq!(uri, "test:///default");
        let worker = hv
            .call("thread id", |_| Ok(std::thread::current().id()))
            .await
            .unwrap();
        assert_ne!(worker, caller);
        let again = hv
            .call("thread id", |_| Ok(std::thread::current().id()))
            .await;
        assert_eq!(again.unwrap(), worker, "one thread per hypervisor");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn side_calls_run_together_off_the_connection_thread() {
        let hv = Hypervisor::new("test:///default").unwrap();
        let worker = hv
            .call("thread id", |_| Ok(std::thread::current().id()))
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let calls: Vec<_> = (0..PARALLEL_CALLS)
            .map(|_| {
                let hv = hv.clone();
                tokio::spawn(async move {
                    hv.call_parallel("sleep", |link| {
                        std::thread::sleep(Duration::from_millis(200));
                        link.conn()
                            .uri()
                            .map_err(|e| link.fail("read the URI", e))?;
                        Ok(std::thread::current().id())
                    })
                    .await
                })
            })
            .collect();
        let mut threads = Vec::new();
        for c in calls {
            threads.push(c.await.unwrap());
        }
        let elapsed = started.elapsed();
        assert!(
            elapsed < Duration::from_millis(200 * PARALLEL_CALLS as u64 - 100),
            "{PARALLEL_CALLS} side calls of 200 ms took {elapsed:?}: not together"
        );
        for t in threads {
            assert_ne!(t.unwrap(), worker);
        }
        let e = hv
            .call_parallel::<(), _>("panic", |_| panic!("deliberate"))
            .await
            .unwrap_err();
        assert!(matches!(e, LibvirtError::WorkerGone { .. }), "{e:?}");
        hv.call_parallel("again", |_| Ok(())).await.unwrap();
    }

    #[tokio::test]
    async fn a_panicking_call_fails_alone() {
        let hv = Hypervisor::new("test:///default").unwrap();
        let e = hv
            .call::<(), _>("panic", |_| panic!("deliberate"))
            .await
            .unwrap_err();
        assert!(matches!(e, LibvirtError::WorkerGone { .. }), "{e:?}");
        hv.ping().await.unwrap();
    }

    #[tokio::test]
    async fn a_slow_call_times_out() {
        let hv = Hypervisor::with_timeout("test:///default", Duration::from_millis(50)).unwrap();
        let e = hv
            .call("sleep", |_| {
                std::thread::sleep(Duration::from_millis(300));
                Ok(())
            })
            .await
            .unwrap_err();
        assert!(matches!(e, LibvirtError::Timeout { .. }), "{e:?}");
        assert!(
            e.to_string()
                .contains("did not answer the request to sleep"),
            "{e}"
        );
    }

    #[test]
    fn hints_by_transport() {
        let e = virt::error::Error::from(std::ffi::CString::new("a\0b").unwrap_err());
        assert!(connect_hint("qemu+tls://h/system", &e).contains("certificate"));
        assert!(connect_hint("qemu+ssh://root@h/system", &e).contains("~/.ssh/config"));
        assert!(connect_hint("qemu:///system", &e).contains("check the URI"));
    }
}
