// The status page in real headless Chromium against a live node with game
// servers and traffic: it loads without console errors, counts right, its
// chart moves, its lobby filter works, and it warns when every game comes
// from one address. Screenshots go to test-results/status-page/.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Page } from "playwright-core";
import { afterEach, expect, it } from "vitest";
import {
  encodeConnectRequest,
  encodeLobby2Request,
  encodeUdpRequest,
} from "../../src/protocol/index.js";
import { type ChromiumSession, chromiumMissing, launchChromium } from "../helpers/chromium.js";
import { describeWith } from "../helpers/prerequisites.js";
import {
  expectNoOpenSockets,
  lobbyData,
  registerRawServer,
  Resources,
  type TestMaster,
} from "../helpers/master.js";

/** In CI a missing browser is a failure, never a silent skip (.ci/run installs it). */
const missing = chromiumMissing();
const SCREENSHOTS = resolve("test-results", "status-page");

const resources = new Resources();
let browser: ChromiumSession | null = null;
afterEach(async () => {
  await browser?.close();
  browser = null;
  await resources.closeAll();
  await expectNoOpenSockets();
});

/** Opens the page, recording every console error and uncaught exception. */
async function openPage(master: TestMaster): Promise<{ page: Page; errors: string[] }> {
  browser = await launchChromium();
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(`uncaught: ${error.message}`));
  await page.goto(`${master.httpUrl}/status`);
  return { page, errors };
}

function text(page: Page, selector: string): Promise<string> {
  return page
    .locator(selector)
    .first()
    .textContent()
    .then((t) => (t ?? "").trim());
}

const GAMES = [
  ["127.0.0.2", "SpaceRace", "EU", "nebula"],
  ["127.0.0.3", "SpaceRace", "US", "asteroids"],
  ["127.0.0.4", "SpaceRace", "EU", "asteroids"],
  ["127.0.0.5", "DungeonDuel", "EU", "crypt"],
  ["127.0.0.6", "DungeonDuel", "ASIA", "tower"],
  ["127.0.0.7", "KartParty", "US", "volcano"],
] as const;

async function registerGames(master: TestMaster): Promise<void> {
  for (const [ip, game, region, map] of GAMES)
    await registerRawServer(resources, master, ip, {
      version: "1.2.4",
      data: lobbyData(game, region, map, "4/8"),
    });
}

/** A client's UDP `connect` then its TCP `connect`: both sides get their -1. */
async function foundConnect(master: TestMaster, clientIp: string, serverIp: string) {
  const udp = await resources.udp(clientIp);
  await udp.send(encodeUdpRequest("connect", true), master.gamePort);
  const client = await resources.tcp(master.gamePort, clientIp);
  client.send(encodeConnectRequest(serverIp));
  await client.waitForChunks(1);
}

async function lobbyRequest(master: TestMaster, ip: string) {
  const client = await resources.tcp(master.gamePort, ip);
  client.send(encodeLobby2Request({}));
  await client.waitForClose();
}

describeWith({ missing }, "status page in headless Chromium", () => {
  it("shows a live node's servers, mediation and lobby, and warns when sources collapse", {
    timeout: 90_000,
  }, async () => {
    const master = await resources.master({ http: true, env: { GMNET_LOG_IP: "hash" } });
    await registerGames(master);
    await master.node.refresh(); // heartbeat with the servers it now holds
    for (let i = 0; i < 5; i++) await foundConnect(master, `127.0.0.${20 + i}`, GAMES[i % 6]![0]);
    const lost = await resources.tcp(master.gamePort, "127.0.0.26");
    lost.send(encodeConnectRequest("127.0.0.99")); // no such server: -2
    await lost.waitForChunks(1);
    for (let i = 0; i < 3; i++) await lobbyRequest(master, "127.0.0.30");
    const garbage = await resources.tcp(master.gamePort, "127.0.0.31");
    garbage.send("hello\n\0");
    await garbage.waitForClose();

    const { page, errors } = await openPage(master);

    // The overview counts what the node holds.
    await expect.poll(() => text(page, "#servers-total")).toBe("6");
    expect(await text(page, "#games-total")).toBe("3");
    expect(await text(page, "#nodes-total")).toBe("1");
    const games = await page.locator("#games-table tbody tr").allTextContents();
    expect(games).toEqual(["SpaceRace3", "DungeonDuel2", "KartParty1"]);
    expect(await text(page, "#nodes-table tbody tr")).toContain(master.node.config.nodeId);
    expect(await text(page, "#warnings")).toContain("No warnings");
    expect(await text(page, "#ip-mode")).toBe("IPs hashed");

    // The connects chart moves: new points each poll, and new connects in its totals.
    const chart = page.locator("#chart-connects");
    const found = chart.locator('li[data-series="found"] .rate');
    await expect.poll(() => found.textContent()).toContain("5 total");
    expect(await chart.locator("li").allTextContents()).toEqual([
      expect.stringMatching(/^found/),
      expect.stringMatching(/^not_found.*1 total$/),
    ]);
    const points = Number(await chart.getAttribute("data-points"));
    const path = await chart.locator('path[data-series="found"]').getAttribute("d");
    for (let i = 0; i < 3; i++) await foundConnect(master, `127.0.0.${27 + i}`, "127.0.0.7");
    await expect.poll(() => found.textContent(), { timeout: 10_000 }).toContain("8 total");
    expect(Number(await chart.getAttribute("data-points"))).toBeGreaterThan(points);
    expect(await chart.locator('path[data-series="found"]').getAttribute("d")).not.toBe(path);
    expect(await text(page, '#chart-lobby li[data-series="ok"]')).toContain("3 total");
    expect(await text(page, '#chart-bad-input li[data-series="unknown_command"]')).toContain(
      "1 total",
    );

    // The lobby as a game sees it: all six, then the filter on data1.
    await expect.poll(() => page.locator("#lobby-table tbody tr").count()).toBe(6);
    await page.fill("#filter-data1", "KartParty");
    await page.press("#filter-data1", "Enter");
    await expect.poll(() => page.locator("#lobby-table tbody tr").count()).toBe(1);
    expect(await text(page, "#lobby-table tbody tr")).toContain("volcano");
    expect(await text(page, "#lobby-summary")).toMatch(/^1 server\(s\) match/);
    // One server's detail, by its hashed IP.
    await page.locator("#lobby-table tbody button").first().click();
    await expect.poll(() => text(page, "#detail-fields")).toContain("KartParty");
    expect(await text(page, "#detail-title")).toMatch(/^ip-[0-9a-f]{12}$/);

    // Hashed mode: no raw game IP anywhere on the page (hidden parts included).
    expect(await page.locator("body").textContent()).not.toMatch(/127\.0\.0\.\d/);

    mkdirSync(SCREENSHOTS, { recursive: true });
    const healthy = join(SCREENSHOTS, "status-page.png");
    await page.screenshot({ path: healthy, fullPage: true });

    // Every game from one address (a balancer hiding sources): the page says so.
    await Promise.all(Array.from({ length: 50 }, () => lobbyRequest(master, "127.0.0.40")));
    const warning = page.locator('.warning[data-code="source_collapsed"]');
    await warning.waitFor({ state: "visible", timeout: 10_000 });
    expect(await warning.textContent()).toContain("every punch will fail");
    await page.click("#lobby-clear");
    await expect.poll(() => page.locator("#lobby-table tbody tr").count()).toBe(6);
    const collapsed = join(SCREENSHOTS, "status-page-warning.png");
    await page.screenshot({ path: collapsed, fullPage: true });
    console.log(`status page screenshots: ${healthy} ${collapsed}`);

    expect(errors).toEqual([]);
  });

  it("asks for the admin token when the node requires one, and keeps it for the tab", {
    timeout: 60_000,
  }, async () => {
    const master = await resources.master({
      http: true,
      env: { GMNET_ADMIN_TOKEN: "correct-horse" },
    });
    const { page, errors } = await openPage(master);
    await page.locator("#auth").waitFor({ state: "visible" });
    expect(await page.locator("#content").isHidden()).toBe(true);

    await page.fill("#auth-token", "wrong");
    await page.press("#auth-token", "Enter");
    await page.locator("#auth-error").waitFor({ state: "visible" });
    expect(await text(page, "#auth-error")).toContain("refused");

    await page.fill("#auth-token", "correct-horse");
    await page.press("#auth-token", "Enter");
    await page.locator("#content").waitFor({ state: "visible" });
    await expect.poll(() => text(page, "#servers-total")).toBe("0");
    await page.reload(); // sessionStorage: the token survives a reload of the tab
    await page.locator("#content").waitFor({ state: "visible" });
    expect(await page.locator("#auth").isHidden()).toBe(true);

    // The browser logs each refused request (401); nothing else may go wrong.
    expect(errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  });
});
