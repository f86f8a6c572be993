// Addresses of UI pages that other parts of the gateway link to (the check run's details page links a PR's page).
export const repoPagePath = (repository: string) => `/ui/repos/${repository.split("/").map(encodeURIComponent).join("/")}`;
export const prPagePath = (repository: string, pr: number) => `${repoPagePath(repository)}/pulls/${pr}`;
