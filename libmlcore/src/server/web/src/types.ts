// The messages the UI reads, in the proto3 JSON mapping (proto/mlcore/v1/*.proto): lowerCamelCase
// names, enums by name, 64-bit integers as strings, timestamps as RFC 3339 strings. Only the
// fields the UI uses are declared; every one is optional, since unset messages may be absent.
import type { Resources } from "./dom";

export type Int64 = string | number;

export interface User { name?: string; displayName?: string; admin?: boolean }
export interface RoleBinding { project?: string; user?: string; role?: string }
export interface WhoAmIResponse { user?: User; bindings?: RoleBinding[] }

export interface Project { name?: string; parent?: string; description?: string; guaranteed?: Resources; limit?: Resources }

export interface JobEvent { time?: string; fromState?: string; toState?: string; reason?: string }
export interface DatasetRef { uri?: string; digest?: string; sizeBytes?: Int64 }
export interface SourceCode { gitCommit?: string; gitRemote?: string; gitBranch?: string; gitDirty?: boolean; entryPoint?: string }
export interface JobSpec {
  name?: string; project?: string; command?: string[]; args?: string[]; image?: string; workingDir?: string;
  env?: Record<string, string>; flavor?: string; resources?: Resources; replicas?: number; priorityClass?: string;
  preemptible?: boolean; deadline?: string; ttl?: string; inputDatasets?: DatasetRef[]; outputPaths?: string[];
  labels?: Record<string, string>; experiment?: string;
}
export interface ResourceUsage { cpuSeconds?: number; memoryPeakBytes?: Int64; gpuSeconds?: number; wallTime?: string }
export interface Job {
  id?: string; spec?: JobSpec; state?: string; events?: JobEvent[]; waitingReason?: string; user?: string;
  createTime?: string; startTime?: string; endTime?: string; exitCode?: number | null; signal?: number | null;
  resourcesUsed?: ResourceUsage; restarts?: number; runId?: string;
  reproducibility?: { source?: SourceCode; inputDatasets?: DatasetRef[]; mlcoreVersion?: string; imageDigest?: string };
  qos?: string; priority?: number; resources?: Resources; nodes?: string[]; deadlineTime?: string; rerunOf?: string;
  message?: string; outputArtifactIds?: string[];
}
export interface LogLine { time?: string; stream?: string; text?: string; replica?: number; attempt?: number }

export interface UserUsage { user?: string; used?: Resources; pending?: Resources; runningJobs?: number; pendingJobs?: number }
export interface QuotaUsage {
  project?: string; guaranteed?: Resources; limit?: Resources; used?: Resources; usedPreemptible?: Resources;
  pending?: Resources; runningJobs?: number; pendingJobs?: number; users?: UserUsage[];
}

export interface MetricSummary { key?: string; latestValue?: number | string; latestStep?: Int64; minValue?: number | string; maxValue?: number | string; count?: Int64 }
export interface Run {
  id?: string; project?: string; experimentId?: string; name?: string; status?: string; user?: string;
  startTime?: string; endTime?: string; source?: SourceCode; parentRunId?: string; jobId?: string;
  tags?: Record<string, string>; params?: Record<string, string>; metrics?: MetricSummary[];
}
export interface MetricSeries { key?: string; steps?: Int64[]; values?: (number | string)[]; timesUnixMicros?: Int64[] }
export interface GetMetricHistoryResponse { series?: MetricSeries; totalPoints?: Int64 }

export interface ObjectRef { kind?: string; id?: string; project?: string; displayName?: string }
export interface Artifact {
  id?: string; project?: string; owner?: ObjectRef; path?: string; kind?: string; manifestDigest?: string;
  sizeBytes?: Int64; fileCount?: Int64; createTime?: string;
}

export interface ModelAlias { alias?: string; version?: Int64 }
export interface RegisteredModel {
  project?: string; name?: string; description?: string; tags?: Record<string, string>; aliases?: ModelAlias[];
  latestVersion?: Int64; createTime?: string; updateTime?: string; createdBy?: string;
}
export interface ModelVersion {
  project?: string; model?: string; version?: Int64; status?: string; statusMessage?: string; runId?: string; jobId?: string;
  inputDatasets?: DatasetRef[]; metrics?: Record<string, number | string>; description?: string; sourceCode?: SourceCode;
  aliases?: string[]; sizeBytes?: Int64; createTime?: string; createdBy?: string; manifestDigest?: string;
  source?: { kind?: string; runId?: string; jobId?: string; artifactId?: string; path?: string };
}
export interface ModelVersionLineage {
  version?: ModelVersion; run?: ObjectRef; job?: ObjectRef; pipelineRun?: ObjectRef; sourceCode?: SourceCode;
  datasets?: DatasetRef[]; artifact?: ObjectRef; parent?: ModelVersionLineage | null;
}

export interface IoValue {
  name?: string; type?: string; parameterJson?: string; artifactId?: string; manifestDigest?: string;
  dataset?: DatasetRef; metrics?: Record<string, number | string>;
}
export interface Step { name?: string; dependsOn?: string[]; inputs?: { name?: string }[]; outputs?: { name?: string }[]; condition?: string }
export interface Edge { sourceStep?: string; sourceName?: string; targetStep?: string; targetName?: string }
export interface StepRun {
  step?: string; iteration?: number | null; state?: string; jobId?: string; runId?: string; cachedFromJobId?: string;
  inputs?: IoValue[]; outputs?: IoValue[]; startTime?: string; endTime?: string; message?: string;
}
export interface PipelineRun {
  id?: string; project?: string; spec?: { name?: string; steps?: Step[]; edges?: Edge[]; exitHandler?: Step | null };
  state?: string; steps?: StepRun[]; runId?: string; user?: string; createTime?: string; startTime?: string;
  endTime?: string; failedStep?: string; message?: string; outputs?: IoValue[]; inputValues?: Record<string, string>;
}
