// Downloads the lobby like udphp_downloadServerList: one TCP connection, one
// `lobby2` request, one `-7` reply of JSON.
import { connect as tcpConnect } from "node:net";
import { encodeLobby2Request, LOBBY_DATA_FIELDS, type LobbyQuery } from "../protocol/index.js";

export interface LobbyServer {
  ip: string;
  data: string[];
  createdTime: number;
}

export interface LobbyDownloadOptions extends Partial<LobbyQuery> {
  masterHost: string;
  masterPort: number;
  timeoutMs?: number;
}

export function downloadLobby(options: LobbyDownloadOptions): Promise<LobbyServer[]> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: options.masterHost, port: options.masterPort });
    const chunks: Buffer[] = [];
    const timer = setTimeout(
      () => fail(new Error("lobby download timed out")),
      options.timeoutMs ?? 10_000,
    );
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.on("connect", () => socket.write(encodeLobby2Request(options)));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", fail);
    socket.on("close", () => {
      clearTimeout(timer);
      const reply = Buffer.concat(chunks);
      if (reply.length === 0 || reply.readInt8(0) !== -7) {
        reject(new Error(`no lobby reply (got ${reply.length} bytes)`));
        return;
      }
      try {
        const rows = JSON.parse(reply.toString("utf8", 1).trim()) as Array<
          Record<string, string | number>
        >;
        resolve(
          rows.map((row) => ({
            ip: String(row.ip),
            data: Array.from({ length: LOBBY_DATA_FIELDS }, (_, i) =>
              String(row[`data${i + 1}`] ?? ""),
            ),
            createdTime: Number(row.createdTime),
          })),
        );
      } catch (error) {
        reject(error as Error);
      }
    });
  });
}
