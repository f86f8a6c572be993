// Analysis limits for guardrail tests that are not about time: every bound but the 25 ms one, which a busy CI machine
// can reach on any script (a finding would then be obf.analysis-limit instead of the rule under test).
import { DEFAULT_LIMITS, type WalkLimits } from "../../gateway/guardrails/shell/index.js";

export const UNTIMED: WalkLimits = { ...DEFAULT_LIMITS, maxMillis: 60_000 };
