//! libvirt's client library, loaded when the first hypervisor is used instead of when
//! the process starts.
//!
//! Why: Terraform starts the provider several times per command (schema, validation,
//! plan, apply), and most of those processes never talk to a hypervisor. Linking
//! `libvirt.so.0` the ordinary way makes every one of them load and relocate it and the
//! fifty-odd libraries it needs (GnuTLS, libxml2, ...): about 9 ms of a 12 ms start on a
//! 2-core machine, repeated three times per plan even in configurations with no
//! hypervisor at all. ELF has no lazily loaded libraries, the `virt` crate can only be
//! linked, and no crate offers delay-loading for an arbitrary C library, so this module
//! does what a delay-load import library does:
//!
//! - [`libvirt_on_demand!`](crate::libvirt_on_demand), invoked once in a binary's own
//!   crate, defines every libvirt function rack calls as a two-instruction trampoline
//!   (x86-64 Linux only). The binary's definitions come first on the link line, so the
//!   linker resolves the `virt` crate's references to them, and with `--as-needed`
//!   (rustc's default) drops `libvirt.so.0` from the binary's needed libraries.
//! - Each trampoline jumps through a slot that first points at a binder. The binder saves
//!   the argument registers, asks [`resolve`] for the real function (opening the library
//!   on the first call, `dlsym` after), stores it in the slot and jumps to it with the
//!   caller's registers and stack untouched. Later calls cost one indirect jump.
//! - [`load`] opens the library up front and reports failure as an error: the provider
//!   calls it when a hypervisor is configured, so a missing library is a diagnostic, not
//!   an abort inside a call.
//!
//! Binaries that do not invoke the macro (tests, benchmarks) link libvirt as before;
//! [`load`] then finds it already mapped. A libvirt function missing from the macro's list
//! is no build error: the linker takes it from `libvirt.so.0`, which is then needed at
//! start again. The provider's `startup` test catches that by checking that a started
//! provider has not mapped libvirt.
//!
//! The only `unsafe` here is the FFI to the dynamic loader and the trampolines' assembly.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_void};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, Ordering};

/// The library's file name (the soname of libvirt's client library).
pub const LIBRARY: &str = "libvirt.so.0";

/// The opened library: the handle `dlopen` returned, never closed.
struct Handle(*mut c_void);

// SAFETY: a dlopen handle is a process-wide token; the loader's calls taking it are
// thread-safe.
unsafe impl Send for Handle {}
// SAFETY: as above.
unsafe impl Sync for Handle {}

static OPENED: OnceLock<Result<Handle, String>> = OnceLock::new();

/// The last error of the dynamic loader, as text.
fn loader_error() -> String {
    // SAFETY: dlerror returns null or a NUL-terminated string valid until the next call
    // on this thread; it is copied at once.
    let message = unsafe { libc::dlerror() };
    if message.is_null() {
        "no reason given".to_owned()
    } else {
        // SAFETY: non-null, NUL-terminated, see above.
        unsafe { CStr::from_ptr(message) }
            .to_string_lossy()
            .into_owned()
    }
}

fn opened() -> &'static Result<Handle, String> {
    OPENED.get_or_init(|| {
        tracing::debug!(library = LIBRARY, "loading libvirt's client library");
        // SAFETY: the name is a NUL-terminated literal; the handle is kept for the life
        // of the process, so no function resolved from it outlives it.
        let handle = unsafe { libc::dlopen(c"libvirt.so.0".as_ptr(), libc::RTLD_NOW) };
        if handle.is_null() {
            Err(loader_error())
        } else {
            Ok(Handle(handle))
        }
    })
}

/// Opens libvirt's client library if it is not open yet. The error says why it could
/// not be loaded (the dynamic loader's message).
pub fn load() -> Result<(), String> {
    opened().as_ref().map(|_| ()).map_err(Clone::clone)
}

/// The address of libvirt's function `name`, stored into `slot` for the next call.
/// Called by the trampolines' binder, on any thread. Aborts the process, after saying
/// why on stderr, when the library or the function cannot be found: the binder has no
/// way to return an error to the caller, and [`load`] has normally reported a missing
/// library long before.
///
/// # Safety
/// `name` is a NUL-terminated string and `slot` a live pointer-sized slot.
pub unsafe fn resolve(name: *const c_char, slot: *const AtomicPtr<c_void>) -> *mut c_void {
    // SAFETY: the caller's contract.
    let name = unsafe { CStr::from_ptr(name) };
    let handle = match opened() {
        Ok(handle) => handle,
        Err(reason) => fail(name, reason),
    };
    // SAFETY: a live handle and a NUL-terminated name.
    let function = unsafe { libc::dlsym(handle.0, name.as_ptr()) };
    if function.is_null() {
        fail(name, &loader_error());
    }
    // SAFETY: the caller's contract; the slot is only ever written with the same value.
    unsafe { &*slot }.store(function, Ordering::Release);
    function
}

fn fail(name: &CStr, reason: &str) -> ! {
    eprintln!(
        "rack: cannot call libvirt's {} from {LIBRARY}: {reason}. Install libvirt's client \
         library (Debian: libvirt0).",
        name.to_string_lossy()
    );
    std::process::abort()
}

/// Defines, in the invoking binary, a trampoline for every libvirt function rack calls,
/// so that the binary does not link `libvirt.so.0` and loads it on first use (see the
/// [module documentation](crate::libvirt::on_demand)). Invoke once, in a binary crate's
/// root. Does nothing on targets other than x86-64 Linux, which link libvirt as before.
#[macro_export]
macro_rules! libvirt_on_demand {
    () => {
        $crate::libvirt_on_demand! {
            virConnectClose virConnectGetCapabilities virConnectGetDomainCapabilities
            virConnectGetHostname virConnectGetLibVersion virConnectGetMaxVcpus
            virConnectGetType virConnectGetURI virConnectGetVersion virConnectIsAlive
            virConnectListAllDomains virConnectListAllNetworks virConnectListAllStoragePools
            virConnectOpen virDomainAttachDeviceFlags virDomainCreate virDomainDefineXML
            virDomainDestroy virDomainDetachDeviceFlags virDomainFree virDomainGetAutostart
            virDomainGetInfo virDomainGetName virDomainGetUUIDString virDomainGetXMLDesc
            virDomainInterfaceAddresses virDomainIsActive virDomainIsPersistent
            virDomainLookupByName virDomainSetAutostart virDomainSetMemoryFlags
            virDomainSetVcpusFlags virDomainShutdownFlags virDomainUndefine
            virDomainUndefineFlags virGetLastError virInterfaceFree virInterfaceLookupByName
            virNetworkCreate virNetworkDHCPLeaseFree virNetworkDefineXML virNetworkDestroy
            virNetworkFree virNetworkGetAutostart virNetworkGetDHCPLeases virNetworkGetName
            virNetworkGetUUIDString virNetworkGetXMLDesc virNetworkIsActive
            virNetworkIsPersistent virNetworkLookupByName virNetworkSetAutostart
            virNetworkUndefine virNetworkUpdate virNodeGetFreeMemory virNodeGetInfo
            virSetErrorFunc virStoragePoolBuild virStoragePoolCreate virStoragePoolDefineXML
            virStoragePoolDelete virStoragePoolDestroy virStoragePoolFree
            virStoragePoolGetAutostart virStoragePoolGetInfo virStoragePoolGetName
            virStoragePoolGetUUIDString virStoragePoolGetXMLDesc virStoragePoolIsActive
            virStoragePoolIsPersistent virStoragePoolListAllVolumes virStoragePoolLookupByName
            virStoragePoolNumOfVolumes virStoragePoolRefresh virStoragePoolSetAutostart
            virStoragePoolUndefine virStorageVolCreateXML virStorageVolCreateXMLFrom
            virStorageVolDelete virStorageVolFree virStorageVolGetName virStorageVolGetPath
            virStorageVolGetXMLDesc virStorageVolLookupByName virStorageVolResize
            virStorageVolUpload virStreamAbort virStreamEventRemoveCallback virStreamFinish
            virStreamFree virStreamNew virStreamSend virStreamSendHole
        }
    };
    ($($name:ident)*) => {
        /// Called by the binder below (see `rack_core::libvirt::on_demand::resolve`).
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        unsafe extern "C" fn rack_libvirt_resolve(
            name: *const ::std::ffi::c_char,
            slot: *const ::std::sync::atomic::AtomicPtr<::std::ffi::c_void>,
        ) -> *mut ::std::ffi::c_void {
            // SAFETY: the binder passes a trampoline's name and slot.
            unsafe { $crate::libvirt::on_demand::resolve(name, slot) }
        }

        // Keeps the resolver in the binary: only the assembly refers to it.
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        #[used]
        static RACK_LIBVIRT_RESOLVE: unsafe extern "C" fn(
            *const ::std::ffi::c_char,
            *const ::std::sync::atomic::AtomicPtr<::std::ffi::c_void>,
        ) -> *mut ::std::ffi::c_void = rack_libvirt_resolve;

        // Per function: the trampoline (global, so that the `virt` crate's references
        // resolve to it, and hidden, so that the binary does not export it to libvirt
        // itself once loaded) jumps through its slot; the slot first
        // holds the function's lazy entry, which loads the slot's and the name's
        // addresses into r11 and r10 (scratch, never arguments) and goes to the binder.
        // The binder saves the argument registers (rdi, rsi, rdx, rcx, r8, r9, rax for
        // variadic calls, xmm0-7), calls the resolver, restores them and jumps to the
        // function it returned, so the function sees the caller's registers and stack.
        // 7 pushes and 128 bytes keep the stack 16-byte aligned at the call.
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        ::std::arch::global_asm!(
            concat!(
                ".pushsection .text.rack_libvirt,\"ax\",@progbits\n",
                $(
                    ".globl ", stringify!($name), "\n",
                    ".hidden ", stringify!($name), "\n",
                    ".type ", stringify!($name), ",@function\n",
                    stringify!($name), ":\n",
                    "    jmp *rack_libvirt_slot_", stringify!($name), "(%rip)\n",
                    "rack_libvirt_lazy_", stringify!($name), ":\n",
                    "    lea rack_libvirt_slot_", stringify!($name), "(%rip), %r11\n",
                    "    lea rack_libvirt_name_", stringify!($name), "(%rip), %r10\n",
                    "    jmp rack_libvirt_bind\n",
                )*
                "rack_libvirt_bind:\n",
                "    push %rdi\n    push %rsi\n    push %rdx\n    push %rcx\n",
                "    push %r8\n    push %r9\n    push %rax\n",
                "    sub $128, %rsp\n",
                "    movdqu %xmm0, 0(%rsp)\n    movdqu %xmm1, 16(%rsp)\n",
                "    movdqu %xmm2, 32(%rsp)\n    movdqu %xmm3, 48(%rsp)\n",
                "    movdqu %xmm4, 64(%rsp)\n    movdqu %xmm5, 80(%rsp)\n",
                "    movdqu %xmm6, 96(%rsp)\n    movdqu %xmm7, 112(%rsp)\n",
                "    mov %r10, %rdi\n    mov %r11, %rsi\n",
                "    call rack_libvirt_resolve\n",
                "    mov %rax, %r11\n",
                "    movdqu 0(%rsp), %xmm0\n    movdqu 16(%rsp), %xmm1\n",
                "    movdqu 32(%rsp), %xmm2\n    movdqu 48(%rsp), %xmm3\n",
                "    movdqu 64(%rsp), %xmm4\n    movdqu 80(%rsp), %xmm5\n",
                "    movdqu 96(%rsp), %xmm6\n    movdqu 112(%rsp), %xmm7\n",
                "    add $128, %rsp\n",
                "    pop %rax\n    pop %r9\n    pop %r8\n    pop %rcx\n",
                "    pop %rdx\n    pop %rsi\n    pop %rdi\n",
                "    jmp *%r11\n",
                ".popsection\n",
                ".pushsection .data.rack_libvirt,\"aw\",@progbits\n",
                ".p2align 3\n",
                $(
                    "rack_libvirt_slot_", stringify!($name), ":\n",
                    "    .quad rack_libvirt_lazy_", stringify!($name), "\n",
                )*
                ".popsection\n",
                ".pushsection .rodata.rack_libvirt,\"a\",@progbits\n",
                $(
                    "rack_libvirt_name_", stringify!($name), ":\n",
                    "    .asciz \"", stringify!($name), "\"\n",
                )*
                ".popsection\n",
            ),
            options(att_syntax)
        );
    };
}
