/* scan.tsx - the partner's QR code read inside the app with the browser's
 * BarcodeDetector (Chrome on Android has it; elsewhere the phone's own
 * camera opens the /payer/<code> link, or the code is typed). */
import { useEffect, useRef, useState } from 'preact/hooks';
import { Notice } from '../../shared/ui';
import { T } from '../strings.fr';

interface Detected {
  rawValue: string;
}
interface Detector {
  detect(source: HTMLVideoElement): Promise<Detected[]>;
}
type DetectorClass = new (options: { formats: string[] }) => Detector;

const SCAN_INTERVAL_MS = 250;

export function scannerAvailable(): boolean {
  return 'BarcodeDetector' in window && Boolean(navigator.mediaDevices?.getUserMedia);
}

/** The partner code in what a QR code holds: a `/payer/<code>` address of
 * this site, or the bare 8 digits. */
export function codeFromScan(text: string): string | null {
  const bare = text.replace(/[\s-]/g, '');
  if (/^\d{8}$/.test(bare)) return bare;
  try {
    const url = new URL(text);
    const match = /^\/payer\/(\d{8})$/.exec(url.pathname);
    return match ? match[1]! : null;
  } catch {
    return null;
  }
}

export function Scanner(props: { onCode: (code: string) => void; onStop: () => void }) {
  const video = useRef<HTMLVideoElement>(null);
  const [problem, setProblem] = useState('');
  useEffect(() => {
    let stream: MediaStream | null = null;
    let timer = 0;
    let stopped = false;
    const Detector = (window as unknown as { BarcodeDetector: DetectorClass }).BarcodeDetector;
    const detector = new Detector({ formats: ['qr_code'] });
    async function tick() {
      if (stopped || !video.current) return;
      try {
        const found = await detector.detect(video.current);
        for (const item of found) {
          const code = codeFromScan(item.rawValue);
          if (code) {
            props.onCode(code);
            return;
          }
          setProblem(T.pay.scanUnknown);
        }
      } catch {
        // A frame not ready yet: the next one is tried.
      }
      timer = window.setTimeout(tick, SCAN_INTERVAL_MS);
    }
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: 'environment' }, audio: false })
      .then(async (s) => {
        stream = s;
        if (stopped || !video.current) return;
        video.current.srcObject = s;
        await video.current.play();
        void tick();
      })
      .catch(() => setProblem(T.pay.scanFailed));
    return () => {
      stopped = true;
      window.clearTimeout(timer);
      stream?.getTracks().forEach((t) => t.stop());
    };
  }, []);
  return (
    <div class="scanner">
      <p id="scan-help">{T.pay.scanHelp}</p>
      <video ref={video} class="scan-video" muted playsInline aria-describedby="scan-help" />
      {problem && <Notice kind="error" role="alert">{problem}</Notice>}
      <div class="button-row">
        <button type="button" class="button button-secondary" onClick={props.onStop}>
          {T.pay.scanStop}
        </button>
      </div>
    </div>
  );
}
