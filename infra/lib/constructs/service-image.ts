import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { IgnoreMode } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type { Construct } from 'constructs';
import type { ServiceName } from '../../../packages/contracts/src/routing.js';
import type { ImageSource } from '../../config/environments.js';

/** The repository root: the Docker build context (docker/Dockerfile builds any service from it). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const DOCKERFILE = 'docker/Dockerfile';

/**
 * The build context exclusions, read from docker/Dockerfile.dockerignore (what BuildKit applies to this
 * Dockerfile), so the context CDK stages for `cdk deploy` is the one `docker compose build` sends.
 */
export function dockerignorePatterns(): string[] {
  return readFileSync(new URL('../../../docker/Dockerfile.dockerignore', import.meta.url), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/**
 * The container image of one service. `asset`: CDK stages the build context at synth time (no Docker
 * needed to synthesize or test) and `cdk deploy` builds docker/Dockerfile with SERVICE=<service> and
 * pushes it to the bootstrap ECR repository. `ecr`: an image built by CI, `<repository>:<service>-<tag>`.
 */
export function serviceImage(scope: Construct, service: ServiceName, source: ImageSource): ecs.ContainerImage {
  if (source.kind === 'ecr') {
    const repository = ecr.Repository.fromRepositoryName(scope, 'ImageRepository', source.repositoryName);
    return ecs.ContainerImage.fromEcrRepository(repository, `${service}-${source.tag}`);
  }
  const asset = new ecrAssets.DockerImageAsset(scope, 'Image', {
    directory: REPO_ROOT,
    file: DOCKERFILE,
    buildArgs: { SERVICE: service },
    target: 'runtime',
    platform: ecrAssets.Platform.LINUX_AMD64,
    exclude: dockerignorePatterns(),
    ignoreMode: IgnoreMode.DOCKER,
  });
  return ecs.ContainerImage.fromDockerImageAsset(asset);
}
