// SPDX-License-Identifier: GPL-2.0-only
//
// programs.rs - runs the built axrt-locks on this machine (whatever scheduler it has): the
// deadlock must be one the kernel sees (EDEADLK), the inversion and the benchmark must complete
// with consistent reports, and bad usage must exit 2. Timing bounds are the VM test's business
// (tests/vm/boosts.sh), under the scheduler being tested.

use std::process::Command;

use serde_json::Value;

fn run(args: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_axrt-locks"))
        .args(args)
        .output()
        .expect("axrt-locks runs");
    let code = out.status.code().unwrap_or(-1);
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (code, v)
}

#[test]
fn the_ab_ba_deadlock_is_one_the_kernel_sees() {
    let (code, v) = run(&["deadlock", "--timeout-ms", "5000"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["b_result"], "EDEADLK", "{v}");
    assert_eq!(v["a_result"], "ok", "{v}");
    assert_ne!(v["tid_a"], v["tid_b"]);
    assert_ne!(v["addr_a"], v["addr_b"]);
}

#[test]
fn the_inversion_completes_with_a_consistent_report() {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return; // it needs a second CPU for its main thread
    }
    let (code, v) = run(&[
        "inversion",
        "--hold-ms",
        "20",
        "--hog-ms",
        "30",
        "--cpu",
        "0",
    ]);
    assert_eq!(code, 0, "{v}");
    let wait = v["wait_ms"].as_f64().unwrap();
    let rest = v["remaining_hold_ms"].as_f64().unwrap();
    assert!(wait >= 0.0 && (0.0..=20.0).contains(&rest), "{v}");
    // The waiter asked after the holder took the lock and got it after the holder let go.
    assert!(
        v["t1_ns"].as_u64().unwrap() >= v["low_released_ns"].as_u64().unwrap(),
        "{v}"
    );
    assert_eq!(v["hog_tids"].as_array().unwrap().len(), 1);
}

#[test]
fn the_benchmark_counts_acquisitions() {
    let (code, v) = run(&["bench", "--threads", "2", "--duration-s", "1"]);
    assert_eq!(code, 0, "{v}");
    let per: u64 = v["per_thread"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(per, v["acquisitions"].as_u64().unwrap());
    assert!(per > 0);
}

#[test]
fn bad_usage_exits_2() {
    let (code, _) = run(&["inversion", "--hogs", "0"]);
    assert_eq!(code, 2);
    let (code, _) = run(&["inversion", "--cpu", "4096"]);
    assert_eq!(code, 1, "a CPU that does not exist is a runtime error");
}
