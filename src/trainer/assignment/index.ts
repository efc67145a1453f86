// The TF.js versions (pairwiseCostTf in ./costTf, nearestOfKTf in ./knnTf) are imported from
// their own modules, so that importing the plain-JS functions does not load TensorFlow.js.
export { linearSumAssignment, linearSumAssignmentWith, assignmentCost, type LsaOptions } from './lsa';
export { pairwiseCost, meanPairDistance, type CostKind } from './cost';
export { nearestOfK } from './knn';
