//! The longer noise events (USB, ext4, firewall, segfaults, warnings, Mem-Info, daemons).

use super::*;

impl Generator<'_> {
    pub(super) fn audit_stamp(&mut self) {
        let now = self.boot_epoch as u64 + self.mono_us / 1_000_000;
        self.u(now);
        self.s(".");
        self.upad(self.mono_us / 1000 % 1000, 3, b'0');
        self.s(":");
        let serial = self.mono_us / 7919 % 1_000_000;
        self.u(serial);
    }

    pub(super) fn rfc3339_now(&mut self) {
        let sec = self.boot_epoch + (self.mono_us / 1_000_000) as i64;
        let days = sec.div_euclid(86_400);
        let tod = sec.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let mut o = [b'0'; 19];
        put_dec(&mut o[0..4], y as u64);
        o[4] = b'-';
        put_dec(&mut o[5..7], u64::from(m));
        o[7] = b'-';
        put_dec(&mut o[8..10], u64::from(d));
        o[10] = b'T';
        put_hms(&mut o[11..19], tod / 3600, tod / 60 % 60, tod % 60);
        self.buf.extend_from_slice(&o);
        self.s(".");
        self.upad(self.mono_us % 1_000_000, 6, b'0');
        self.s("000Z");
    }

    pub(super) fn usb_attach(&mut self) {
        let port = self.rnd(1, 4);
        let devnum = self.rnd(2, 60);
        let (vendor, product, name) = *self.rng.pick(USB_DEVICES);
        let tag = |g: &mut Generator<'_>| {
            g.k();
            g.s("usb 1-");
            g.u(port);
            g.s(": ");
        };
        tag(self);
        self.s("new high-speed USB device number ");
        self.u(devnum);
        self.s(" using xhci_hcd");
        self.eol();
        self.tick(150_000);
        tag(self);
        self.s("New USB device found, idVendor=");
        self.s(vendor);
        self.s(", idProduct=");
        self.s(product);
        self.s(", bcdDevice= 1.00");
        self.eol();
        tag(self);
        self.s("New USB device strings: Mfr=1, Product=2, SerialNumber=3");
        self.eol();
        tag(self);
        self.s("Product: ");
        self.s(name);
        self.eol();
        if self.opts.form == LogForm::Kmsg {
            self.kmsg_dict(devnum);
        }
        self.tick(3000);
        self.k();
        self.s("usb-storage 1-");
        self.u(port);
        self.s(":1.0: USB Mass Storage device detected");
        self.eol();
        self.k();
        self.s("scsi host6: usb-storage 1-");
        self.u(port);
        self.s(":1.0");
        self.eol();
    }

    /// The dictionary lines a kmsg record of a device carries (` SUBSYSTEM=`, ` DEVICE=`).
    pub(super) fn kmsg_dict(&mut self, devnum: u64) {
        self.s(" SUBSYSTEM=usb");
        self.eol();
        self.s(" DEVICE=c189:");
        self.u(devnum);
        self.eol();
    }

    pub(super) fn ext4(&mut self) {
        let dev = self.pick(&["sda1", "sda2", "dm-0", "nvme0n1p2", "sdb1"]);
        match self.rng.below(4) {
            0 => {
                let uuid = self.rng.next_u64();
                self.k();
                self.s("EXT4-fs (");
                self.s(dev);
                self.s("): mounted filesystem ");
                self.hex(uuid >> 32, 8);
                self.s("-");
                self.hex(uuid >> 16, 4);
                self.s("-");
                self.hex(uuid, 4);
                self.s("-8a1c-");
                self.hex(uuid.rotate_left(7), 12);
                self.s(" r/w with ordered data mode. Quota mode: none.");
            }
            1 => {
                self.kl(4);
                let inode = self.rnd(12, 30_000_000);
                self.s("EXT4-fs warning (device ");
                self.s(dev);
                self.s("): ext4_dx_add_entry:2461: inode #");
                self.u(inode);
                self.s(": comm rsync: Directory index full!");
            }
            2 => {
                self.kl(3);
                let inode = self.rnd(12, 30_000_000);
                self.s("EXT4-fs error (device ");
                self.s(dev);
                self.s("): ext4_lookup:1855: inode #");
                self.u(inode);
                self.s(": comm find: deleted inode referenced: ");
                self.u(inode + 16);
            }
            _ => {
                self.k();
                self.s("EXT4-fs (");
                self.s(dev);
                self.s("): re-mounted. Quota mode: none.");
            }
        }
        self.eol();
    }

    pub(super) fn ufw(&mut self) {
        let proto_tcp = self.rng.chance(3, 4);
        let src = self.rng.next_u64();
        let spt = self.rnd(1024, 65535);
        let dpt = *self.rng.pick(&[22u64, 23, 445, 3389, 5900, 8080, 25, 3306]);
        self.kl(4);
        let tag = if self.rng.chance(1, 4) {
            "[UFW AUDIT] "
        } else {
            "[UFW BLOCK] "
        };
        self.s(tag);
        self.s("IN=eth0 OUT= MAC=52:54:00:");
        self.hex(src >> 40, 2);
        self.s(":");
        self.hex(src >> 48, 2);
        self.s(":");
        self.hex(src >> 56, 2);
        self.s(":fe:ff:ff:ff:ff:ee:08:00 SRC=");
        self.u((src & 0xff) % 223 + 1);
        self.s(".");
        self.u((src >> 8) & 0xff);
        self.s(".");
        self.u((src >> 16) & 0xff);
        self.s(".");
        self.u((src >> 24) & 0xff);
        self.s(" DST=10.0.0.4 LEN=");
        let len = self.rnd(40, 1500);
        self.u(len);
        self.s(" TOS=0x00 PREC=0x00 TTL=");
        let ttl = self.rnd(30, 250);
        self.u(ttl);
        self.s(" ID=");
        let id = self.rnd(0, 65535);
        self.u(id);
        if proto_tcp {
            self.s(" DF PROTO=TCP SPT=");
            self.u(spt);
            self.s(" DPT=");
            self.u(dpt);
            self.s(" WINDOW=64240 RES=0x00 SYN URGP=0");
        } else {
            self.s(" PROTO=UDP SPT=");
            self.u(spt);
            self.s(" DPT=");
            self.u(dpt);
            self.s(" LEN=");
            self.u(len - 20);
        }
        self.eol();
    }

    pub(super) fn veth(&mut self) {
        let br = self.pick(&["docker0", "cni0", "br-4f2a9c1b7e3d"]);
        let port = self.rnd(1, 30);
        let id = self.rng.next_u64();
        let state = self.pick(&["blocking state", "disabled state", "forwarding state"]);
        self.k();
        self.s(br);
        self.s(": port ");
        self.u(port);
        self.s("(veth");
        self.hex(id, 7);
        self.s(") entered ");
        self.s(state);
        self.eol();
        if self.rng.chance(1, 3) {
            self.k();
            self.s("device veth");
            self.hex(id, 7);
            let what = if self.rng.chance(1, 2) {
                " entered promiscuous mode"
            } else {
                " left promiscuous mode"
            };
            self.s(what);
            self.eol();
        }
    }

    pub(super) fn segfault(&mut self) {
        let comm = self.comm();
        let pid = self.pid();
        let addr = self.rnd(0, 0x1000);
        let lib = self.rnd(0x7f00_0000_0000, 0x7fff_ffff_ffff) & !0xfff;
        let cpu = self.rnd(0, 7);
        self.k();
        self.s(comm);
        self.s("[");
        self.u(pid);
        self.s("]: segfault at ");
        self.hexu(addr);
        self.s(" ip ");
        self.hex(lib + 0x9_e5d6e, 16);
        self.s(" sp 00007ffd");
        let sp = self.rng.next_u64();
        self.hex(sp, 8);
        self.s(" error 4 in libc.so.6[");
        self.hexu(lib);
        self.s("+195000] likely on CPU ");
        self.u(cpu);
        self.s(" (core ");
        self.u(cpu);
        self.s(", socket 0)");
        self.eol();
        self.k();
        self.s("Code: ");
        for n in 0..64u64 {
            let b = self.rng.below(256);
            if n == 42 {
                self.s("<");
                self.hex(b, 2);
                self.s("> ");
            } else {
                self.hex(b, 2);
                if n < 63 {
                    self.s(" ");
                }
            }
        }
        self.eol();
    }

    pub(super) fn regs(&mut self) {
        for names in [
            ["RAX", "RBX", "RCX"],
            ["RDX", "RSI", "RDI"],
            ["RBP", "R08", "R09"],
        ] {
            self.kl(4);
            for (n, name) in names.iter().enumerate() {
                if n > 0 {
                    self.s(" ");
                }
                self.s(name);
                self.s(": ");
                let v = self.rng.next_u64() >> self.rng.below(64);
                self.hex(v, 16);
            }
            self.eol();
        }
        for names in [["R10", "R11", "R12"], ["R13", "R14", "R15"]] {
            self.kl(4);
            for (n, name) in names.iter().enumerate() {
                if n > 0 {
                    self.s(" ");
                }
                self.s(name);
                self.s(": ");
                let v = self.rng.next_u64() >> self.rng.below(64);
                self.hex(v, 16);
            }
            self.eol();
        }
    }

    pub(super) fn cpu_line(&mut self, cpu: u64, pid: u64, comm: &str, tainted: &str) {
        self.kl(4);
        self.s("CPU: ");
        self.u(cpu);
        self.s(" UID: 0 PID: ");
        self.u(pid);
        self.s(" Comm: ");
        self.s(comm);
        self.s(" ");
        self.s(tainted);
        self.s(" 6.8.0-45-generic #45-Ubuntu");
        self.eol();
        self.kl(4);
        self.s("Hardware name: ");
        let hw = self.pick(HARDWARE);
        self.s(hw);
        self.eol();
    }

    pub(super) fn frames(&mut self, frames: &[&str]) {
        for f in frames {
            self.kl(4);
            self.s(" ");
            self.s(f);
            self.eol();
        }
    }

    pub(super) fn warning(&mut self) {
        let (site, func, frames) = *self.rng.pick(WARNINGS);
        let cpu = self.rnd(0, 7);
        let pid = if self.rng.chance(1, 3) { 0 } else { self.pid() };
        let comm = if pid == 0 {
            "swapper/3"
        } else {
            self.pick(&["kworker/3:1", "ksoftirqd/3", "containerd-shim"])
        };
        self.kl(4);
        self.s("------------[ cut here ]------------");
        self.eol();
        self.kl(4);
        self.s("WARNING: CPU: ");
        self.u(cpu);
        self.s(" PID: ");
        self.u(pid);
        self.s(" at ");
        self.s(site);
        self.s(" ");
        self.s(func);
        self.eol();
        self.kl(4);
        self.s("Modules linked in: xt_conntrack nf_nat nf_conntrack nf_defrag_ipv6 nf_defrag_ipv4 libcrc32c xt_addrtype iptable_filter br_netfilter bridge stp llc overlay intel_rapl_msr intel_rapl_common kvm_intel kvm irqbypass crct10dif_pclmul ghash_clmulni_intel aesni_intel crypto_simd cryptd rapl e1000e i2c_i801 nvme nvme_core");
        self.eol();
        self.cpu_line(cpu, pid, comm, "Tainted: G        W          ");
        self.kl(4);
        self.s("RIP: 0010:");
        self.s(func);
        self.eol();
        self.kl(4);
        self.s("Code: ");
        for n in 0..42u64 {
            let b = self.rng.below(256);
            self.hex(b, 2);
            if n < 41 {
                self.s(" ");
            }
        }
        self.eol();
        self.kl(4);
        self.s("RSP: 0018:ffffb1a8c0");
        let rsp = self.rng.next_u64();
        self.hex(rsp, 6);
        self.s(" EFLAGS: 00010282");
        self.eol();
        self.regs();
        self.kl(4);
        self.s("FS:  0000000000000000(0000) GS:ffff9a41dfd80000(0000) knlGS:0000000000000000");
        self.eol();
        self.kl(4);
        self.s("CS:  0010 DS: 0000 ES: 0000 CR0: 0000000080050033");
        self.eol();
        self.kl(4);
        self.s("Call Trace:");
        self.eol();
        self.frames(&["<IRQ>", "? show_regs+0x6d/0x80", "? __warn+0x89/0x160"]);
        self.frames(frames);
        self.frames(&[
            "</IRQ>",
            "<TASK>",
            "asm_sysvec_apic_timer_interrupt+0x1b/0x20",
            "</TASK>",
        ]);
        self.kl(4);
        self.s("---[ end trace ");
        let t = self.rng.next_u64();
        self.hex(t, 16);
        self.s(" ]---");
        self.eol();
    }

    pub(super) fn hung_task(&mut self) {
        let (task, frames) = *self.rng.pick(HUNG_TASKS);
        let pid = self.rnd(200, 90_000);
        self.kl(3);
        self.s("INFO: task ");
        self.s(task);
        self.s(":");
        self.u(pid);
        self.s(" blocked for more than 120 seconds.");
        self.eol();
        self.kl(3);
        self.s("      Not tainted 6.8.0-45-generic #45-Ubuntu");
        self.eol();
        self.kl(3);
        self.s("\"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.");
        self.eol();
        self.k();
        self.s("task:");
        self.s(task);
        for _ in task.len()..16 {
            self.s(" ");
        }
        self.s("state:D stack:0     pid:");
        self.upad(pid, 5, b' ');
        self.s(" tgid:");
        self.upad(pid, 5, b' ');
        self.s(" ppid:2      flags:0x00004000");
        self.eol();
        self.k();
        self.s("Call Trace:");
        self.eol();
        self.frames(&[
            "<TASK>",
            "__schedule+0x27c/0x6b0",
            "schedule+0x33/0x110",
            "io_schedule+0x46/0x80",
        ]);
        self.frames(frames);
        self.frames(&[
            "kthread+0xef/0x120",
            "ret_from_fork+0x44/0x70",
            "ret_from_fork_asm+0x1b/0x30",
            "</TASK>",
        ]);
    }

    pub(super) fn page_alloc_failure(&mut self) {
        let (comm, order, mode) = *self.rng.pick(ALLOC_FAILURES);
        let pid = if comm.starts_with("swapper") {
            0
        } else {
            self.pid()
        };
        let cpu = self.rnd(0, 7);
        self.kl(4);
        self.s(comm);
        self.s(": page allocation failure: order:");
        self.s(order);
        self.s(", mode:");
        self.s(mode);
        self.s(", nodemask=(null),cpuset=/,mems_allowed=0");
        self.eol();
        self.cpu_line(cpu, pid, comm, "Not tainted");
        self.kl(4);
        self.s("Call Trace:");
        self.eol();
        self.frames(&[
            "<TASK>",
            "dump_stack_lvl+0x76/0xa0",
            "dump_stack+0x10/0x20",
            "warn_alloc+0x174/0x1f0",
            "? __alloc_pages_direct_compact+0xb8/0x260",
            "__alloc_pages_slowpath.constprop.0+0xc8d/0xd10",
            "__alloc_pages+0x31f/0x350",
            "alloc_pages_mpol+0x91/0x1f0",
            "alloc_pages+0x5b/0xd0",
            "kmalloc_large+0x27/0xd0",
            "__kmalloc_node_track_caller+0x2d4/0x3f0",
            "kmalloc_reserve+0x6c/0x110",
            "__alloc_skb+0x86/0x1d0",
            "tcp_stream_alloc_skb+0x2c/0x150",
            "tcp_sendmsg_locked+0x4fe/0xe70",
            "tcp_sendmsg+0x2c/0x50",
            "inet_sendmsg+0x42/0x80",
            "sock_sendmsg+0x118/0x150",
            "__sys_sendto+0x12b/0x1a0",
            "__x64_sys_sendto+0x24/0x40",
            "do_syscall_64+0x81/0x170",
            "entry_SYSCALL_64_after_hwframe+0x78/0x80",
            "</TASK>",
        ]);
        self.mem_info();
    }

    /// The `show_mem` dump that both OOM reports and non-OOM warnings print.
    pub(super) fn mem_info(&mut self) {
        let active_anon = self.rnd(100_000, 3_000_000);
        let inactive_anon = self.rnd(1_000, 500_000);
        let file = self.rnd(10_000, 2_000_000);
        let free = self.rnd(20_000, 900_000);
        self.kl(4);
        self.s("Mem-Info:");
        self.eol();
        self.kl(4);
        self.s("active_anon:");
        self.u(active_anon);
        self.s(" inactive_anon:");
        self.u(inactive_anon);
        self.s(" isolated_anon:0");
        self.eol();
        self.cont(4);
        self.s(" active_file:");
        self.u(file / 2);
        self.s(" inactive_file:");
        self.u(file / 2 + 17);
        self.s(" isolated_file:0");
        self.eol();
        self.cont(4);
        let dirty = self.rnd(0, 5000);
        self.s(" unevictable:4653 dirty:");
        self.u(dirty);
        self.s(" writeback:0");
        self.eol();
        self.cont(4);
        let slab = self.rnd(5000, 90_000);
        self.s(" slab_reclaimable:");
        self.u(slab);
        self.s(" slab_unreclaimable:");
        self.u(slab / 3);
        self.eol();
        self.cont(4);
        self.s(" mapped:");
        self.u(file / 9);
        self.s(" shmem:");
        self.u(inactive_anon / 7);
        self.s(" pagetables:");
        self.u(active_anon / 500);
        self.eol();
        self.cont(4);
        self.s(" sec_pagetables:0 bounce:0");
        self.eol();
        self.cont(4);
        self.s(" kernel_misc_reclaimable:0");
        self.eol();
        self.cont(4);
        self.s(" free:");
        self.u(free);
        self.s(" free_pcp:");
        self.u(free / 40);
        self.s(" free_cma:0");
        self.eol();
        self.kl(4);
        self.s("Node 0 active_anon:");
        self.u(active_anon * 4);
        self.s("kB inactive_anon:");
        self.u(inactive_anon * 4);
        self.s("kB active_file:");
        self.u(file * 2);
        self.s("kB inactive_file:");
        self.u(file * 2 + 68);
        self.s("kB unevictable:18612kB isolated(anon):0kB isolated(file):0kB mapped:");
        self.u(file * 4 / 9);
        self.s("kB dirty:");
        self.u(dirty * 4);
        self.s("kB writeback:0kB shmem:");
        self.u(inactive_anon * 4 / 7);
        self.s("kB shmem_thp:0kB shmem_pmdmapped:0kB anon_thp:0kB writeback_tmp:0kB kernel_stack:14976kB pagetables:");
        self.u(active_anon / 125);
        self.s("kB sec_pagetables:0kB all_unreclaimable? no");
        self.eol();
        self.kl(4);
        self.s("Node 0 DMA free:15360kB boost:0kB min:32kB low:44kB high:56kB reserved_highatomic:0KB active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB writepending:0kB present:15992kB managed:15360kB mlocked:0kB bounce:0kB free_pcp:0kB local_pcp:0kB free_cma:0kB");
        self.eol();
        self.kl(4);
        self.s("lowmem_reserve[]: 0 2933 15815 15815 15815");
        self.eol();
        self.kl(4);
        self.s("Node 0 DMA32 free:");
        self.u(free * 4 / 5);
        self.s("kB boost:0kB min:10932kB low:13664kB high:16396kB reserved_highatomic:0KB active_anon:");
        self.u(active_anon);
        self.s("kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB writepending:0kB present:3129152kB managed:3013680kB mlocked:0kB bounce:0kB free_pcp:");
        self.u(free / 20);
        self.s("kB local_pcp:0kB free_cma:0kB");
        self.eol();
        self.kl(4);
        self.s("lowmem_reserve[]: 0 0 12882 12882 12882");
        self.eol();
        self.kl(4);
        self.s("Node 0 DMA: 0*4kB 0*8kB 0*16kB 0*32kB 0*64kB 0*128kB 0*256kB 0*512kB 1*1024kB (U) 1*2048kB (M) 3*4096kB (M) = 15360kB");
        self.eol();
        self.kl(4);
        self.s("Node 0 DMA32: ");
        let mut sum = 0;
        for (n, size) in [4u64, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
            .iter()
            .enumerate()
        {
            let c = self.rng.below(3000 >> n.min(11));
            sum += c * size;
            self.u(c);
            self.s("*");
            self.u(*size);
            self.s("kB (UME) ");
        }
        self.s("= ");
        self.u(sum);
        self.s("kB");
        self.eol();
        self.kl(4);
        self.s(
            "Node 0 hugepages_total=0 hugepages_free=0 hugepages_surp=0 hugepages_size=1048576kB",
        );
        self.eol();
        self.kl(4);
        self.s("Node 0 hugepages_total=0 hugepages_free=0 hugepages_surp=0 hugepages_size=2048kB");
        self.eol();
        self.kl(4);
        self.u(file + inactive_anon / 7);
        self.s(" total pagecache pages");
        self.eol();
        for l in [
            "0 pages in swap cache",
            "Free swap  = 0kB",
            "Total swap = 0kB",
            "4174397 pages RAM",
            "0 pages HighMem/MovableOnly",
            "105373 pages reserved",
            "0 pages hwpoisoned",
        ] {
            self.kl(4);
            self.s(l);
            self.eol();
        }
    }

    pub(super) fn systemd(&mut self, kmsg: bool) {
        let unit = self.pick(UNITS);
        // systemd writes to /dev/kmsg only while journald is not up: keep those rare lines
        // to messages it plausibly prints then.
        let src = Src::User("systemd", 1);
        let variant = if kmsg {
            self.rng.below(4)
        } else {
            self.rng.below(9)
        };
        self.line(src);
        match variant {
            0 => {
                self.s("Started ");
                self.s(unit);
                self.s(".service.");
            }
            1 => {
                self.s(unit);
                self.s(".service: Main process exited, code=killed, status=15/TERM");
            }
            2 => {
                let pid = self.pid();
                let comm = self.comm();
                self.s("session-");
                let n = self.rnd(1, 900);
                self.u(n);
                self.s(".scope: Killing process ");
                self.u(pid);
                self.s(" (");
                self.s(comm);
                self.s(") with signal SIGKILL.");
            }
            3 => self.s("Started systemd-oomd.service - Userspace Out-Of-Memory (OOM) Killer."),
            4 => {
                self.s(unit);
                self.s(".service: Deactivated successfully.");
            }
            5 => {
                let ms = self.rnd(1, 90_000);
                self.s(unit);
                self.s(".service: Consumed ");
                self.u(ms / 1000);
                self.s(".");
                self.upad(ms % 1000, 3, b'0');
                self.s("s CPU time, ");
                let mb = self.rnd(1, 900);
                self.u(mb);
                self.s(".0M memory peak, 0B memory swap peak.");
            }
            6 => {
                self.s("Starting ");
                self.s(unit);
                self.s(".service - ");
                self.s(unit);
                self.s(" daemon...");
            }
            7 => {
                self.s(unit);
                self.s(".service: Failed with result 'signal'.");
            }
            _ => {
                let n = self.rnd(1, 900);
                self.s("Started session-");
                self.u(n);
                self.s(".scope - Session ");
                self.u(n);
                self.s(" of User alice.");
            }
        }
        self.eol();
    }

    pub(super) fn sshd(&mut self) {
        let pid = self.pid() as u32;
        let ip = self.rng.next_u64();
        let port = self.rnd(1024, 65535);
        self.line(Src::User("sshd", pid));
        let variant = self.rng.below(4);
        match variant {
            0 => self.s("Accepted publickey for deploy from 10.1."),
            1 => self.s("Invalid user admin from 203.0."),
            2 => self.s("Connection closed by authenticating user root 198.51."),
            _ => self.s("Received disconnect from 192.0."),
        }
        self.u(ip & 0xff);
        self.s(".");
        self.u((ip >> 8) & 0xff);
        self.s(" port ");
        self.u(port);
        if variant == 0 {
            self.s(" ssh2: ED25519 SHA256:");
            for k in 0..43u32 {
                let c = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                    [((ip.rotate_left(k * 7)) & 63) as usize];
                self.buf.push(c);
            }
        } else {
            self.s(" [preauth]");
        }
        self.eol();
    }

    pub(super) fn kubelet(&mut self) {
        let pid = self.daemon(3);
        let pod_id = self.rng.next_u64();
        let pod = self.pick(&[
            "web-7d4b9c8f6-x2kqz",
            "api-5f6d8b7c9-qpl4m",
            "worker-0",
            "redis-0",
        ]);
        self.line(Src::User("kubelet", pid));
        let sec = self.boot_epoch + (self.mono_us / 1_000_000) as i64;
        let (_, m, d) = civil_from_days(sec.div_euclid(86_400));
        let tod = sec.rem_euclid(86_400);
        match self.rng.below(3) {
            0 => self.s("I"),
            1 => self.s("W"),
            _ => self.s("E"),
        }
        self.upad(u64::from(m), 2, b'0');
        self.upad(u64::from(d), 2, b'0');
        self.s(" ");
        let mut hms = [0u8; 8];
        put_hms(&mut hms, tod / 3600, tod / 60 % 60, tod % 60);
        self.buf.extend_from_slice(&hms);
        self.s(".");
        self.upad(self.mono_us % 1_000_000, 6, b'0');
        self.s("    ");
        self.u(u64::from(pid));
        match self.rng.below(3) {
            0 => {
                self.s(" kuberuntime_container.go:779] \"Killing container with a grace period\" pod=\"default/");
                self.s(pod);
                self.s("\" podUID=\"");
                self.hex(pod_id, 8);
                self.s("-");
                self.hex(pod_id >> 8, 4);
                self.s("-4c1d-9e0a-");
                self.hex(pod_id.rotate_left(13), 12);
                self.s("\" containerName=\"app\" gracePeriod=30");
            }
            1 => {
                self.s(" pod_workers.go:1298] \"Error syncing pod, skipping\" err=\"failed to \\\"StartContainer\\\" for \\\"app\\\" with CrashLoopBackOff: \\\"back-off 5m0s restarting failed container=app pod=");
                self.s(pod);
                self.s("_default\\\"\" pod=\"default/");
                self.s(pod);
                self.s("\"");
            }
            _ => {
                self.s(" prober.go:107] \"Probe failed\" probeType=\"Readiness\" pod=\"default/");
                self.s(pod);
                self.s("\" containerName=\"app\" probeResult=\"failure\" output=\"Get \\\"http://10.244.1.17:8080/healthz\\\": context deadline exceeded\"");
            }
        }
        self.eol();
    }
}
