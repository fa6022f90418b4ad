//! A small Rust library with std, called from C: collections, formatting, a panic caught with
//! catch_unwind (which unwinds through libgcc_s's _Unwind_*), threads and Rust's stdout.
use std::collections::{BTreeMap, HashMap};
use std::ffi::CStr;
use std::os::raw::{c_char, c_int};
use std::panic;

/// Writes `text` and a NUL into `out` (at most `len` bytes in all); returns the text's length.
fn write_c(text: &str, out: *mut c_char, len: usize) -> c_int {
    if out.is_null() || len == 0 {
        return -1;
    }
    let bytes = text.as_bytes();
    let n = bytes.len().min(len - 1);
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), out as *mut u8, n);
        *out.add(n) = 0;
    }
    n as c_int
}

/// Word frequencies of a C string, most frequent first (ties alphabetically), as "word=count ...".
#[no_mangle]
pub extern "C" fn rs_word_counts(text: *const c_char, out: *mut c_char, len: usize) -> c_int {
    let text = unsafe { CStr::from_ptr(text) }.to_string_lossy();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word.to_lowercase()).or_insert(0) += 1;
    }
    let mut sorted: Vec<(String, usize)> = counts.into_iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let parts: Vec<String> = sorted.iter().map(|(w, c)| format!("{w}={c}")).collect();
    write_c(&parts.join(" "), out, len)
}

/// Sum of the primes below `limit`, by a sieve in a Vec.
#[no_mangle]
pub extern "C" fn rs_prime_sum(limit: u32) -> u64 {
    let limit = limit as usize;
    let mut composite = vec![false; limit.max(2)];
    let mut sum = 0u64;
    for n in 2..limit {
        if !composite[n] {
            sum += n as u64;
            let mut m = n * n;
            while m < limit {
                composite[m] = true;
                m += n;
            }
        }
    }
    sum
}

/// Histogram of `values[0..n] % buckets` in a BTreeMap, formatted in key order.
#[no_mangle]
pub extern "C" fn rs_histogram(values: *const i64, n: usize, buckets: i64, out: *mut c_char, len: usize) -> c_int {
    let values = unsafe { std::slice::from_raw_parts(values, n) };
    let mut histogram: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for &v in values {
        histogram.entry(v.rem_euclid(buckets)).or_default().push(v);
    }
    let text = histogram
        .iter()
        .map(|(k, vs)| format!("{k}:{vs:?}"))
        .collect::<Vec<_>>()
        .join("; ");
    write_c(&text, out, len)
}

fn checked_divide(a: i32, b: i32) -> i32 {
    if b == 0 {
        panic!("division of {a} by zero");
    }
    a / b
}

/// `a / b`, or -1 with the panic's message in `out` when `b` is 0: the panic (after the default
/// hook has printed it to stderr) unwinds through Rust frames to catch_unwind and never reaches C.
#[no_mangle]
pub extern "C" fn rs_safe_divide(a: c_int, b: c_int, out: *mut c_char, len: usize) -> c_int {
    let result = panic::catch_unwind(|| checked_divide(a, b));
    match result {
        Ok(q) => {
            write_c("ok", out, len);
            q
        }
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".to_string());
            write_c(&format!("caught panic: {message}"), out, len);
            -1
        }
    }
}

/// Prints one line from Rust's own stdout and flushes it, so it lands between C's lines when C
/// flushes its stdio before calling.
#[no_mangle]
pub extern "C" fn rs_greet(name: *const c_char) {
    use std::io::Write;
    let name = unsafe { CStr::from_ptr(name) }.to_string_lossy();
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "hello from Rust, {name}").unwrap();
    stdout.flush().unwrap();
}

thread_local! {
    static CALLS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Sums 1..=n in `threads` scoped threads. Each thread counts its calls in a thread-local and adds
/// that count minus one: 0 with a variable per thread, but not if the threads shared one.
#[no_mangle]
pub extern "C" fn rs_parallel_sum(n: u64, threads: u32) -> u64 {
    let threads = threads.max(1) as u64;
    let chunk = n / threads + 1;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let lo = t * chunk + 1;
                    let hi = ((t + 1) * chunk).min(n);
                    CALLS.with(|c| c.set(c.get() + 1));
                    (lo..=hi).sum::<u64>() + CALLS.with(|c| c.get() as u64) - 1
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    })
}
