// The audible P1 alarm: three short tones made with Web Audio, so no sound
// file is needed. Browsers allow sound only after a user gesture; the
// sign-in click unlocks it.

let context = null;
let muted = false;

/** Prepares sound; call from a click or key press. */
export function unlock() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return;
  context ??= new Context();
  context.resume().catch(() => {});
}

/** Turns the alarm off or on. */
export function setMuted(value) {
  muted = value;
}

/** True when the alarm is off. */
export function isMuted() {
  return muted;
}

/** Sounds the alarm once, unless muted or not unlocked. */
export function sound() {
  if (muted || !context) return;
  const start = context.currentTime;
  for (let i = 0; i < 3; i += 1) {
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.type = "square";
    oscillator.frequency.value = 880;
    gain.gain.setValueAtTime(0.2, start + i * 0.3);
    gain.gain.setValueAtTime(0, start + i * 0.3 + 0.18);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start(start + i * 0.3);
    oscillator.stop(start + i * 0.3 + 0.2);
  }
}
