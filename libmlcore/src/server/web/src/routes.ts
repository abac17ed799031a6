// Where each rpc the UI calls is served. The routes come from the `(mlcore.v1.http)` options of
// proto/mlcore/v1/*.proto, extracted at build time into routes.gen.ts (gen-routes.mjs), so a
// route changed in the proto needs no edit here. The table below (the routes as of the first
// HTTP commit, docs/http-routes.md) is used only for an rpc the generated table lacks.
import { GENERATED_ROUTES } from "./routes.gen";

export interface Route {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
}

const FALLBACK: Record<string, [Route["method"], string]> = {
  "AuthService.WhoAmI": ["GET", "/api/v1/auth/whoami"],
  "ProjectService.ListProjects": ["GET", "/api/v1/projects"],
  "ProjectService.GetProject": ["GET", "/api/v1/projects/{name}"],
  "JobService.ListJobs": ["GET", "/api/v1/projects/{project}/jobs"],
  "JobService.GetJob": ["GET", "/api/v1/jobs/{id}"],
  "JobService.StreamJobLogs": ["GET", "/api/v1/jobs/{id}/logs"],
  "JobService.CancelJob": ["POST", "/api/v1/jobs/{id}/cancel"],
  "JobService.PreemptJob": ["POST", "/api/v1/jobs/{id}/preempt"],
  "JobService.RerunJob": ["POST", "/api/v1/jobs/{id}/rerun"],
  "SchedulingService.GetQuotaUsage": ["GET", "/api/v1/quota-usage"],
  "TrackingService.SearchRuns": ["GET", "/api/v1/projects/{project}/runs"],
  "TrackingService.GetRun": ["GET", "/api/v1/runs/{id}"],
  "TrackingService.GetMetricHistory": ["GET", "/api/v1/runs/{run_id}/metrics/{key=**}"],
  "TrackingService.ListExperiments": ["GET", "/api/v1/projects/{project}/experiments"],
  "ArtifactService.ListArtifacts": ["GET", "/api/v1/projects/{project}/artifacts"],
  "ArtifactService.GetArtifact": ["GET", "/api/v1/artifacts/{id}"],
  "RegistryService.ListRegisteredModels": ["GET", "/api/v1/projects/{project}/models"],
  "RegistryService.GetRegisteredModel": ["GET", "/api/v1/projects/{project}/models/{name}"],
  "RegistryService.ListModelVersions": ["GET", "/api/v1/projects/{project}/models/{model}/versions"],
  "RegistryService.GetModelVersionLineage": [
    "GET",
    "/api/v1/projects/{project}/models/{model}/versions/{version}/lineage",
  ],
  "PipelineService.ListPipelineRuns": ["GET", "/api/v1/projects/{project}/pipeline-runs"],
  "PipelineService.GetPipelineRun": ["GET", "/api/v1/pipeline-runs/{id}"],
};

export function routeFor(rpc: string): Route {
  const g = (GENERATED_ROUTES as Record<string, [string, string]>)[rpc];
  if (g) return { method: g[0] as Route["method"], path: g[1] };
  const f = FALLBACK[rpc];
  if (!f) throw new Error(`no HTTP route for ${rpc}`);
  return { method: f[0], path: f[1] };
}

// The rpcs the UI calls, for gen-routes.mjs's report of which ones the proto does not route.
export const USED_RPCS = Object.keys(FALLBACK);
