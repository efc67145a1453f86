export { linearSumAssignment, assignmentCost } from './lsa';
export { pairwiseCost, meanPairDistance, type CostKind } from './cost';
export { nearestOfK } from './knn';
