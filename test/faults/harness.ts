/**
 * The fault-injection harness, in one import for the suite files: the services a suite owns
 * (support/services.ts), one Scenario per injected fault (support/scenario.ts), the DLQ reader
 * (support/dead-letters.ts) and the exactness verdict (support/verdict.ts).
 */
export { faultSuite, FaultServices, MOCK_BROKERS, type ScenarioKafka } from "./support/services.ts";
export { MAX_EXTRA_RECORD_BYTES, runScenario, Scenario, type ScenarioOptions } from "./support/scenario.ts";
export { deadLettersByCase, manyDatesCase, POISON_CASE_HEADER, poisonCases, poisonProblems, type PoisonCase, type PoisonRecord } from "./support/poison.ts";
export { headerText, readDeadLetters, rejectionOf, type DeadLetters } from "./support/dead-letters.ts";
export { auditLine, expectExact, onlyDatabaseRejections, runProblems, type ScenarioResult } from "./support/verdict.ts";
