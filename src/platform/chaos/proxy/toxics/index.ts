import type { ToxicKind } from "../toxic.ts";
import { bandwidthToxic } from "./bandwidth.ts";
import { latencyToxic } from "./latency.ts";
import { limitDataToxic } from "./limit-data.ts";
import { resetPeerToxic } from "./reset-peer.ts";
import { slicerToxic } from "./slicer.ts";
import { slowCloseToxic } from "./slow-close.ts";
import { timeoutToxic } from "./timeout.ts";

/** Every toxic type the proxy knows, by Toxiproxy type name. */
export const toxicKinds: ReadonlyMap<string, ToxicKind> = new Map(
  [
    latencyToxic,
    bandwidthToxic,
    slowCloseToxic,
    timeoutToxic,
    resetPeerToxic,
    slicerToxic,
    limitDataToxic,
  ].map((kind) => [kind.type, kind]),
);
