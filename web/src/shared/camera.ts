/* camera.ts - QR codes read from the phone's camera with the browser's
 * BarcodeDetector (Chrome on Android has it; elsewhere the apps offer the
 * phone's own camera app or typing instead). One loop for every scanner of
 * the apps: the beneficiary's partner code, the partner's voucher and
 * receipt numbers. */
import { useEffect, useRef } from 'preact/hooks';
import type { RefObject } from 'preact';

interface Detected {
  rawValue: string;
}
interface Detector {
  detect(source: HTMLVideoElement): Promise<Detected[]>;
}
type DetectorClass = new (options: { formats: string[] }) => Detector;

// Four looks a second: quick enough for a hand-held code, light on a phone.
const LOOK_INTERVAL_MS = 250;

function detectorClass(): DetectorClass | null {
  const candidate = (window as unknown as { BarcodeDetector?: DetectorClass }).BarcodeDetector;
  return candidate ?? null;
}

/** Whether this browser can read a QR code from the camera. */
export function cameraScanAvailable(): boolean {
  return detectorClass() !== null && Boolean(navigator.mediaDevices?.getUserMedia);
}

/** What a scanner does with the codes it sees. `pick` turns a code's text
 * into the value wanted, or null; `found` gets the first value picked (the
 * loop then stops); `unknown` is told of a code that is not one of ours;
 * `refused` is told when the camera cannot be opened. */
export interface CameraScan {
  pick: (raw: string) => string | null;
  found: (value: string) => void;
  unknown?: () => void;
  refused: () => void;
}

/** Opens the back camera into the returned video element's ref while the
 * component is shown, looks for QR codes, and closes the camera when it
 * goes. The callbacks are read at each look, so they may change. */
export function useCameraScan(scan: CameraScan): RefObject<HTMLVideoElement> {
  const video = useRef<HTMLVideoElement>(null);
  const latest = useRef(scan);
  latest.current = scan;
  useEffect(() => {
    const Detector = detectorClass();
    if (!Detector || !navigator.mediaDevices?.getUserMedia) return undefined;
    let stream: MediaStream | null = null;
    let timer = 0;
    let stopped = false;
    const detector = new Detector({ formats: ['qr_code'] });
    async function look() {
      if (stopped || !video.current) return;
      try {
        const codes = await detector.detect(video.current);
        const values = codes.map((c) => latest.current.pick(c.rawValue));
        const value = values.find((v): v is string => v !== null);
        if (value !== undefined) {
          latest.current.found(value);
          return;
        }
        if (codes.length > 0) latest.current.unknown?.();
      } catch {
        // A frame not ready yet: the next one is tried.
      }
      timer = window.setTimeout(() => void look(), LOOK_INTERVAL_MS);
    }
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: 'environment' }, audio: false })
      .then(async (s) => {
        stream = s;
        // Gone before the camera answered: it must not stay on.
        if (stopped || !video.current) {
          s.getTracks().forEach((track) => track.stop());
          return;
        }
        video.current.srcObject = s;
        await video.current.play();
        void look();
      })
      .catch(() => latest.current.refused());
    return () => {
      stopped = true;
      window.clearTimeout(timer);
      stream?.getTracks().forEach((track) => track.stop());
    };
  }, []);
  return video;
}
