// The game's side of GMnet PUNCH in TypeScript: for tests, tools, the NAT lab and bots.
export { type ConnectResult, GameClient, type GameClientOptions } from "./game-client.js";
export { GameServer, type GameServerOptions } from "./game-server.js";
export { downloadLobby, type LobbyDownloadOptions, type LobbyServer } from "./lobby-download.js";
export type { Endpoint } from "./wire.js";
