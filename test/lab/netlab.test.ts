/**
 * Layer A of the NAT lab: proves the lab itself behaves as advertised, with
 * plain Node UDP/TCP agents (no master code involved).
 *  - the LB's DNAT round-robin assigns new flows to the masters in order and
 *    keeps the games' public source addresses (no SNAT);
 *  - each NAT kind has the mapping/filtering behaviour its name promises;
 *  - without the inbound drop, an "early knock" makes the NAT remap.
 * Needs root with ip/iptables/conntrack: skips without them, fails in CI.
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWith } from "../helpers/prerequisites.js";
import { ADDR, type LabProcess, labAvailability, MASTER_PORT, NetLab, rpc } from "./netlab.js";

const avail = labAvailability();

const agent = (f: string) => fileURLToPath(new URL(`./agents/${f}`, import.meta.url));
const REFLECT = ADDR.inetRouter; // "some host on the internet" (reflectors + stranger live in the inet ns)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeWith(
  { missing: avail.ok ? null : (avail.reason ?? "the lab cannot run here") },
  "NAT lab (layer A: topology and NAT behaviour)",
  () => {
    let lab: NetLab;
    let peerA: LabProcess;
    let peerB: LabProcess;
    let stranger: LabProcess;
    const t0 = Date.now();

    beforeAll(async () => {
      lab = await NetLab.create({ log: (m) => console.log(`[nat-lab] ${m}`) });
      const echoes = [
        ...ADDR.masters.map((ip, i) =>
          lab.node(lab.ns.mst, `echo-n${i + 1}`, agent("echo.mjs"), [
            `node-${i + 1}`,
            ip,
            String(MASTER_PORT),
          ]),
        ),
        lab.node(lab.ns.inet, "reflect-3478", agent("echo.mjs"), ["r3478", REFLECT, "3478", "udp"]),
        lab.node(lab.ns.inet, "reflect-3479", agent("echo.mjs"), ["r3479", REFLECT, "3479", "udp"]),
      ];
      peerA = lab.node(lab.ns.lanA, "peerA", agent("peer.mjs"), ["peerA"]);
      peerB = lab.node(lab.ns.lanB, "peerB", agent("peer.mjs"), ["peerB"]);
      stranger = lab.node(lab.ns.inet, "stranger", agent("peer.mjs"), ["stranger"]);
      await Promise.all([
        ...echoes.map((e) => e.waitFor((l) => l.ev === "listening", 5000, "listening")),
        ...[peerA, peerB, stranger].map((p) => p.waitFor((l) => l.ev === "ready", 5000, "ready")),
      ]);
      await rpc(stranger, { op: "udp-bind", sock: "s", host: REFLECT, port: 5000 });
      await rpc(stranger, { op: "udp-bind", sock: "s2", host: REFLECT, port: 5001 });
    });

    afterAll(async () => {
      await lab?.close();
      console.log(`[nat-lab] layer A total ${Date.now() - t0} ms`);
    });

    /** public endpoint of `sock` as seen by reflector on `port` */
    async function mapped(
      p: LabProcess,
      sock: string,
      port: number,
    ): Promise<{ from: string; port: number }> {
      const r = await rpc(p, { op: "udp-ask", sock, ip: REFLECT, port, timeoutMs: 1500 });
      const { from, port: p2 } = r.reply as { from: string; port: number };
      return { from, port: p2 };
    }

    /** did `p` receive a datagram on `sock` from ip:port since mark? */
    function received(
      p: LabProcess,
      mark: number,
      sock: string,
      ip: string,
      port: number,
    ): boolean {
      return p.lines
        .slice(mark)
        .some((l) => l.ev === "udp" && l.sock === sock && l.from === ip && l.port === port);
    }

    it("LB: UDP and TCP flows go round-robin to the three masters and keep the public source address", async () => {
      await lab.rules.setNat("A", "port-restricted");
      await lab.rules.setLbBackends([...ADDR.masters]);
      await lab.rules.flushUdpState();
      const udpNodes: string[] = [];
      for (let i = 0; i < 6; i++) {
        const { port } = await rpc(peerA, {
          op: "udp-bind",
          sock: `lb${i}`,
          host: ADDR.gameHost,
          port: 0,
        });
        const r = await rpc(peerA, {
          op: "udp-ask",
          sock: `lb${i}`,
          ip: ADDR.vip,
          port: MASTER_PORT,
          timeoutMs: 1500,
        });
        const reply = r.reply as { node: string; from: string; port: number };
        expect(reply.from).toBe(ADDR.natA.pub); // not the LB's address: no SNAT
        expect(reply.port).toBe(port); // MASQUERADE keeps the source port when it is free
        udpNodes.push(reply.node);
        // a second datagram of the same flow sticks to the same master
        const again = await rpc(peerA, {
          op: "udp-ask",
          sock: `lb${i}`,
          ip: ADDR.vip,
          port: MASTER_PORT,
          timeoutMs: 1500,
        });
        expect((again.reply as { node: string }).node).toBe(reply.node);
        await rpc(peerA, { op: "udp-close", sock: `lb${i}` });
      }
      expect(udpNodes).toEqual(["node-1", "node-2", "node-3", "node-1", "node-2", "node-3"]);

      const tcpNodes: string[] = [];
      for (let i = 0; i < 6; i++) {
        const r = await rpc(peerA, {
          op: "tcp-ask",
          ip: ADDR.vip,
          port: MASTER_PORT,
          host: ADDR.gameHost,
        });
        const reply = r.reply as { node: string; from: string; port: number };
        expect(reply.from).toBe(ADDR.natA.pub);
        expect(reply.port).toBe(r.localPort);
        tcpNodes.push(reply.node);
      }
      expect(tcpNodes).toEqual(["node-1", "node-2", "node-3", "node-1", "node-2", "node-3"]);

      // the order is configurable (and rewriting the rules resets the counters), separately per protocol
      await lab.rules.setLbBackends(
        [ADDR.masters[1], ADDR.masters[2], ADDR.masters[0]],
        [ADDR.masters[2], ADDR.masters[0], ADDR.masters[1]],
      );
      const t = await rpc(peerA, {
        op: "tcp-ask",
        ip: ADDR.vip,
        port: MASTER_PORT,
        host: ADDR.gameHost,
      });
      expect((t.reply as { node: string }).node).toBe("node-2");
      await rpc(peerA, { op: "udp-bind", sock: "lbx", host: ADDR.gameHost, port: 0 });
      const u = await rpc(peerA, {
        op: "udp-ask",
        sock: "lbx",
        ip: ADDR.vip,
        port: MASTER_PORT,
        timeoutMs: 1500,
      });
      expect((u.reply as { node: string }).node).toBe("node-3");
      const flows = await lab.rules.lbFlows("udp");
      expect(flows.some((f) => f.src === ADDR.natA.pub && f.backend === ADDR.masters[2])).toBe(
        true,
      );
      await rpc(peerA, { op: "udp-close", sock: "lbx" });

      // removing a backend: rotation continues over the others
      await lab.rules.setLbBackends([...ADDR.masters]);
      await lab.rules.removeLbBackend(ADDR.masters[0]);
      const seen: string[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await rpc(peerA, {
          op: "tcp-ask",
          ip: ADDR.vip,
          port: MASTER_PORT,
          host: ADDR.gameHost,
        });
        seen.push((r.reply as { node: string }).node);
      }
      expect(seen).toEqual(["node-2", "node-3", "node-2", "node-3"]);
      await lab.rules.setLbBackends([...ADDR.masters]);
    });

    it("every game host and every player home leaves its NAT from its own public address, keeping its port; .70 and .71 share NAT B's first", async () => {
      await lab.rules.setNat("A", "port-restricted");
      await lab.rules.setNat("B", "port-restricted");
      const hosts: Array<{ peer: LabProcess; lan: string; pub: string }> = [
        ...ADDR.gameSites.map((s) => ({ peer: peerA, ...s })),
        ...ADDR.clientHosts.map((lan) => ({ peer: peerB, lan, pub: ADDR.natB.pub })),
        ...ADDR.playerSites.map((s) => ({ peer: peerB, ...s })),
      ];
      for (const [i, h] of hosts.entries()) {
        const sock = `own${i}`;
        const { port } = await rpc(h.peer, { op: "udp-bind", sock, host: h.lan, port: 0 });
        expect(await mapped(h.peer, sock, 3478)).toEqual({ from: h.pub, port });
        expect((await mapped(h.peer, sock, 3479)).port).toBe(port); // endpoint-independent
        await rpc(h.peer, { op: "udp-close", sock });
      }
    });

    it("LB: a backend taken out of rotation keeps its flows or loses its UDP ones, as asked; a black-holed backend drops silently", async () => {
      const [n1, n2] = ADDR.masters;
      await lab.rules.setLbBackends([n1]);
      await lab.rules.flushUdpState();
      const ask = async (sock: string) =>
        (
          (
            await rpc(peerA, {
              op: "udp-ask",
              sock,
              ip: ADDR.vip,
              port: MASTER_PORT,
              timeoutMs: 1500,
            })
          ).reply as { node: string }
        ).node;
      await rpc(peerA, { op: "udp-bind", sock: "kept", host: ADDR.gameHost, port: 0 });
      expect(await ask("kept")).toBe("node-1");
      // out of rotation for new flows only (an endpoint removal): the flow stays on node-1
      await lab.rules.setLbBackends([n1, n2]);
      await lab.rules.removeLbBackend(n1, "none");
      expect(await ask("kept")).toBe("node-1");
      await rpc(peerA, { op: "udp-bind", sock: "new", host: ADDR.gameHost, port: 0 });
      expect(await ask("new")).toBe("node-2");
      // its UDP flows deleted (kube-proxy): the next datagram is a new flow, to node-2
      await lab.rules.removeLbBackend(n1, "udp");
      expect(await ask("kept")).toBe("node-2");
      for (const sock of ["kept", "new"]) await rpc(peerA, { op: "udp-close", sock });

      // black-holed: a TCP connect gets neither an answer nor a refusal (no RST, no ICMP)
      await lab.rules.setLbBackends([n2]);
      const release = await lab.rules.blackHole(n2);
      try {
        await expect(
          rpc(peerA, {
            op: "tcp-ask",
            ip: ADDR.vip,
            port: MASTER_PORT,
            host: ADDR.gameHost,
            timeoutMs: 1000,
          }),
        ).rejects.toThrow(/timeout/);
      } finally {
        await release();
      }
      const r = await rpc(peerA, {
        op: "tcp-ask",
        ip: ADDR.vip,
        port: MASTER_PORT,
        host: ADDR.gameHost,
      });
      expect((r.reply as { node: string }).node).toBe("node-2");
      await lab.rules.setLbBackends([...ADDR.masters]);
    });

    it("port-restricted NAT: endpoint-independent mapping, port-restricted filtering", async () => {
      await lab.rules.setNat("B", "port-restricted");
      await rpc(peerB, { op: "udp-bind", sock: "pr", host: ADDR.clientHosts[0], port: 40000 });
      const m1 = await mapped(peerB, "pr", 3478);
      const m2 = await mapped(peerB, "pr", 3479);
      expect(m1).toEqual({ from: ADDR.natB.pub, port: 40000 });
      expect(m2.port).toBe(m1.port);

      // unsolicited from a stranger: filtered
      let mark = peerB.mark();
      await rpc(stranger, {
        op: "udp-send",
        sock: "s",
        ip: ADDR.natB.pub,
        port: m1.port,
        data: "unsolicited",
      });
      await sleep(300);
      expect(received(peerB, mark, "pr", REFLECT, 5000)).toBe(false);

      // after the client sent to stranger:5000, stranger:5000 gets in, but stranger:5001 (same IP) does not
      const sMark = stranger.mark();
      await rpc(peerB, { op: "udp-send", sock: "pr", ip: REFLECT, port: 5000, data: "hello" });
      const got = await stranger.waitFrom(
        sMark,
        (l) => l.ev === "udp" && l.sock === "s" && l.data === "hello",
        2000,
        "hello at stranger",
      );
      expect(got.port).toBe(m1.port); // same mapping for a third destination
      mark = peerB.mark();
      await rpc(stranger, {
        op: "udp-send",
        sock: "s",
        ip: ADDR.natB.pub,
        port: m1.port,
        data: "reply",
      });
      await rpc(stranger, {
        op: "udp-send",
        sock: "s2",
        ip: ADDR.natB.pub,
        port: m1.port,
        data: "other-port",
      });
      await peerB.waitFrom(
        mark,
        (l) => l.ev === "udp" && l.data === "reply",
        2000,
        "reply at client",
      );
      await sleep(200);
      expect(received(peerB, mark, "pr", REFLECT, 5001)).toBe(false);
      await rpc(peerB, { op: "udp-close", sock: "pr" });
    });

    it("full-cone NAT: static mapping, anyone can send to it unsolicited", async () => {
      await lab.rules.setNat("B", {
        kind: "full-cone",
        fullConePorts: [{ ip: ADDR.clientHosts[0], port: 40001 }],
      });
      await rpc(peerB, { op: "udp-bind", sock: "fc", host: ADDR.clientHosts[0], port: 40001 });
      const mark = peerB.mark();
      await rpc(stranger, {
        op: "udp-send",
        sock: "s2",
        ip: ADDR.natB.pub,
        port: 40001,
        data: "cold",
      });
      await peerB.waitFrom(
        mark,
        (l) => l.ev === "udp" && l.sock === "fc" && l.data === "cold" && l.port === 5001,
        2000,
        "unsolicited datagram",
      );
      expect(await mapped(peerB, "fc", 3478)).toEqual({ from: ADDR.natB.pub, port: 40001 });
      expect(await mapped(peerB, "fc", 3479)).toEqual({ from: ADDR.natB.pub, port: 40001 });
      await rpc(peerB, { op: "udp-close", sock: "fc" });
    });

    it("symmetric NAT: a new public port per destination", async () => {
      await lab.rules.setNat("B", "symmetric");
      await rpc(peerB, { op: "udp-bind", sock: "sy", host: ADDR.clientHosts[0], port: 40002 });
      const m1 = await mapped(peerB, "sy", 3478);
      const m2 = await mapped(peerB, "sy", 3479);
      expect(m1.from).toBe(ADDR.natB.pub);
      expect(m2.port).not.toBe(m1.port);
      // and the mapping for a destination is stable
      expect((await mapped(peerB, "sy", 3478)).port).toBe(m1.port);
      await rpc(peerB, { op: "udp-close", sock: "sy" });
    });

    /**
     * "Early knock": the game server knocks the client's public endpoint (learnt
     * from the master) before the client has sent anything to the server.
     */
    async function earlyKnock(
      dropUnsolicited: boolean,
      localPort: number,
    ): Promise<{ masterPort: number; seenByServer: number; knockAfterReached: boolean }> {
      await lab.rules.setNat("B", { kind: "port-restricted", dropUnsolicited });
      await rpc(peerB, { op: "udp-bind", sock: "ek", host: ADDR.clientHosts[0], port: localPort });
      const m = await mapped(peerB, "ek", 3478); // "master" learns the public endpoint
      await rpc(stranger, {
        op: "udp-send",
        sock: "s",
        ip: ADDR.natB.pub,
        port: m.port,
        data: "early-knock",
      });
      await sleep(100);
      const sMark = stranger.mark();
      await rpc(peerB, {
        op: "udp-send",
        sock: "ek",
        ip: REFLECT,
        port: 5000,
        data: "client-knock",
      });
      const got = await stranger.waitFrom(
        sMark,
        (l) => l.ev === "udp" && l.sock === "s" && l.data === "client-knock",
        2000,
        "client knock",
      );
      const mark = peerB.mark();
      await rpc(stranger, {
        op: "udp-send",
        sock: "s",
        ip: ADDR.natB.pub,
        port: m.port,
        data: "late-knock",
      });
      await sleep(300);
      const knockAfterReached = peerB.lines
        .slice(mark)
        .some((l) => l.ev === "udp" && l.data === "late-knock");
      await rpc(peerB, { op: "udp-close", sock: "ek" });
      return { masterPort: m.port, seenByServer: got.port as number, knockAfterReached };
    }

    it("early knock WITH the inbound drop: no remap, the knock path opens", async () => {
      const r = await earlyKnock(true, 40003);
      console.log(`[nat-lab] early knock, drop on: ${JSON.stringify(r)}`);
      expect(r.seenByServer).toBe(r.masterPort);
      expect(r.knockAfterReached).toBe(true);
    });

    it("early knock WITHOUT the inbound drop: the NAT remaps the client's port (what the master told the server is now wrong)", async () => {
      const r = await earlyKnock(false, 40004);
      console.log(`[nat-lab] early knock, drop off: ${JSON.stringify(r)}`);
      // Observed on Linux 6.x: the unsolicited knock is delivered to the NAT's own
      // stack (ICMP port unreachable) and its conntrack entry is confirmed; the
      // client's outbound flow to the same peer would have the same reply tuple,
      // so MASQUERADE picks another source port.
      expect(r.seenByServer).not.toBe(r.masterPort);
      // knocks to the advertised port now hit the NAT itself, not the client
      expect(r.knockAfterReached).toBe(false);
      const flows = await lab.rules.conntrackList(lab.ns.natB, ["-p", "udp"]);
      console.log(
        `[nat-lab] natB conntrack after early knock:\n${flows.map((f) => f.line).join("\n")}`,
      );
      await lab.rules.setNat("B", "port-restricted");
    });
  },
);
