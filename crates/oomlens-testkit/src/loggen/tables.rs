//! Date helpers, the kinds of noise events with their weights, and the tables noise is drawn from.

pub(super) const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's `civil_from_days`).
pub(super) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

pub(super) fn put_dec(out: &mut [u8], mut n: u64) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

pub(super) fn put_hms(out: &mut [u8], h: i64, m: i64, s: i64) {
    put_dec(&mut out[0..2], h as u64);
    out[2] = b':';
    put_dec(&mut out[3..5], m as u64);
    out[5] = b':';
    put_dec(&mut out[6..8], s as u64);
}

pub(super) fn decimal_len(n: u64) -> usize {
    let mut d = 1;
    let mut n = n / 10;
    while n > 0 {
        d += 1;
        n /= 10;
    }
    d
}

/// Kinds of noise events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ev {
    Apparmor,
    AuditSvc,
    AuditSyscall,
    UsbAttach,
    UsbDisconnect,
    Ext4,
    Ufw,
    Conntrack,
    Tcp,
    Segfault,
    Warning,
    PageAllocFailure,
    SysrqShowMem,
    HungTask,
    NetLink,
    Veth,
    Perf,
    IoError,
    Traps,
    Slub,
    Edac,
    Nfs,
    Kvm,
    PidsCgroup,
    SystemdKmsg,
    Journald,
    Sshd,
    Cron,
    BashKilled,
    Earlyoom,
    NetworkManager,
    Kubelet,
    Containerd,
    Dockerd,
    Sudo,
    Logind,
    Postgres,
    Rsyslog,
    SystemdUnit,
}

/// Event weights for dmesg and kmsg (kernel lines, and the daemons that write to kmsg).
pub(super) const KERNEL_EVENTS: &[(u32, Ev)] = &[
    (60, Ev::Apparmor),
    (40, Ev::AuditSvc),
    (10, Ev::AuditSyscall),
    (3, Ev::UsbAttach),
    (3, Ev::UsbDisconnect),
    (6, Ev::Ext4),
    (80, Ev::Ufw),
    (4, Ev::Conntrack),
    (6, Ev::Tcp),
    (8, Ev::Segfault),
    (1, Ev::Warning),
    (1, Ev::PageAllocFailure),
    (1, Ev::SysrqShowMem),
    (1, Ev::HungTask),
    (8, Ev::NetLink),
    (20, Ev::Veth),
    (2, Ev::Perf),
    (4, Ev::IoError),
    (4, Ev::Traps),
    (1, Ev::Slub),
    (2, Ev::Edac),
    (3, Ev::Nfs),
    (10, Ev::Kvm),
    (2, Ev::PidsCgroup),
    (6, Ev::SystemdKmsg),
    (4, Ev::Journald),
];

/// Event weights for journal and syslog: the kernel's plus userspace.
pub(super) const ALL_EVENTS: &[(u32, Ev)] = &[
    (60, Ev::Apparmor),
    (40, Ev::AuditSvc),
    (10, Ev::AuditSyscall),
    (3, Ev::UsbAttach),
    (3, Ev::UsbDisconnect),
    (6, Ev::Ext4),
    (80, Ev::Ufw),
    (4, Ev::Conntrack),
    (6, Ev::Tcp),
    (8, Ev::Segfault),
    (1, Ev::Warning),
    (1, Ev::PageAllocFailure),
    (1, Ev::SysrqShowMem),
    (1, Ev::HungTask),
    (8, Ev::NetLink),
    (20, Ev::Veth),
    (2, Ev::Perf),
    (4, Ev::IoError),
    (4, Ev::Traps),
    (1, Ev::Slub),
    (2, Ev::Edac),
    (3, Ev::Nfs),
    (10, Ev::Kvm),
    (2, Ev::PidsCgroup),
    (4, Ev::Journald),
    (60, Ev::Sshd),
    (30, Ev::Cron),
    (3, Ev::BashKilled),
    (20, Ev::Earlyoom),
    (10, Ev::NetworkManager),
    (40, Ev::Kubelet),
    (30, Ev::Containerd),
    (5, Ev::Dockerd),
    (10, Ev::Sudo),
    (10, Ev::Logind),
    (3, Ev::Postgres),
    (1, Ev::Rsyslog),
    (40, Ev::SystemdUnit),
];

pub(super) const COMMS: &[&str] = &[
    "python3",
    "node",
    "java",
    "nginx",
    "postgres",
    "chrome",
    "firefox",
    "rsync",
    "bash",
    "Xorg",
    "gnome-shell",
    "redis-server",
    "mysqld",
    "containerd-shim",
    "ruby",
    "php-fpm8.2",
];

pub(super) const UNITS: &[&str] = &[
    "nginx",
    "apt-daily",
    "apt-daily-upgrade",
    "logrotate",
    "fstrim",
    "man-db",
    "certbot",
    "worker-processor",
    "docker",
    "containerd",
    "kubelet",
    "postgresql@15-main",
    "sysstat-collect",
];

pub(super) const APPARMOR: &[(&str, &str, &str)] = &[
    ("snap.firefox.firefox", "firefox", "/proc/pressure/memory"),
    (
        "snap.chromium.chromium",
        "chrome",
        "/sys/devices/virtual/dmi/id/product_name",
    ),
    ("/usr/sbin/cupsd", "cupsd", "/etc/ssl/openssl.cnf"),
    (
        "docker-default",
        "runc:[2:INIT]",
        "/proc/sys/kernel/shm_rmid_forced",
    ),
    ("/usr/bin/man", "man", "/usr/share/locale/locale.alias"),
];

pub(super) const USB_DEVICES: &[(&str, &str, &str)] = &[
    ("0781", "5581", "Ultra"),
    ("090c", "1000", "Flash Disk"),
    ("0951", "1666", "DataTraveler 3.0"),
    ("046d", "c52b", "USB Receiver"),
];

pub(super) const HARDWARE: &[&str] = &[
    "QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.3-debian-1.16.3-2 04/01/2014",
    "Dell Inc. PowerEdge R640/0PHYDR, BIOS 2.17.1 11/15/2022",
    "LENOVO 20QDS3E200/20QDS3E200, BIOS N2HET77W (1.60 ) 02/06/2024",
    "Amazon EC2 m5.xlarge/, BIOS 1.0 10/16/2017",
];

pub(super) const WARNINGS: &[(&str, &str, &[&str])] = &[
    (
        "net/sched/sch_generic.c:525",
        "dev_watchdog+0x235/0x240",
        &[
            "? dev_watchdog+0x235/0x240",
            "? report_bug+0x17e/0x1b0",
            "? handle_bug+0x46/0x90",
            "? exc_invalid_op+0x18/0x80",
            "? asm_exc_invalid_op+0x1b/0x20",
            "? pfifo_fast_enqueue+0x150/0x150",
            "call_timer_fn+0x2c/0x130",
            "__run_timers.part.0+0x1d8/0x270",
            "run_timer_softirq+0x2a/0x60",
            "__do_softirq+0xd9/0x2e7",
            "irq_exit_rcu+0x8c/0xb0",
            "sysvec_apic_timer_interrupt+0x7c/0x90",
        ],
    ),
    (
        "fs/ext4/inode.c:3914",
        "ext4_set_page_dirty+0x42/0x60",
        &[
            "? ext4_set_page_dirty+0x42/0x60",
            "? report_bug+0x17e/0x1b0",
            "? handle_bug+0x46/0x90",
            "set_page_dirty+0x2a/0x40",
            "unpin_user_pages_dirty_lock+0x9c/0x110",
            "__ib_umem_release+0x6d/0xa0",
            "ib_umem_release+0x2d/0x90",
        ],
    ),
    (
        "mm/page_alloc.c:4568",
        "__alloc_pages+0x2de/0x350",
        &[
            "? __alloc_pages+0x2de/0x350",
            "? report_bug+0x17e/0x1b0",
            "__kmalloc_large_node+0x74/0x120",
            "__kmalloc_node+0x14a/0x1a0",
            "kvmalloc_node+0x52/0xc0",
            "seq_read_iter+0x325/0x480",
        ],
    ),
];

pub(super) const HUNG_TASKS: &[(&str, &[&str])] = &[
    (
        "jbd2/sda1-8",
        &[
            "bit_wait_io+0x11/0x70",
            "__wait_on_bit+0x33/0xa0",
            "out_of_line_wait_on_bit+0x8d/0xb0",
            "jbd2_journal_commit_transaction+0x15df/0x1910",
            "kjournald2+0xa9/0x280",
        ],
    ),
    (
        "kworker/u16:2",
        &[
            "rq_qos_wait+0xd0/0x170",
            "wbt_wait+0x9b/0x100",
            "__rq_qos_throttle+0x28/0x40",
            "blk_mq_submit_bio+0x1b0/0x600",
            "process_one_work+0x16f/0x350",
            "worker_thread+0x306/0x440",
        ],
    ),
];

pub(super) const ALLOC_FAILURES: &[(&str, &str, &str)] = &[
    (
        "kworker/u16:3",
        "4",
        "0x40dc0(GFP_KERNEL|__GFP_COMP|__GFP_ZERO)",
    ),
    ("swapper/0", "0", "0x820(GFP_ATOMIC)"),
    ("kswapd0", "0", "0x40cc0(GFP_KERNEL|__GFP_COMP)"),
    (
        "nginx",
        "3",
        "0x42dc0(GFP_KERNEL|__GFP_NOWARN|__GFP_COMP|__GFP_ZERO)",
    ),
    ("chrome", "2", "0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP)"),
];
