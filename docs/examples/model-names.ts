import { displayModelName, formatModelName, parseModelName, repositoryOf, sameModelName } from 'express-model-push'

const name = parseModelName('Team/Coder:Q4', { defaultRegistry: 'localhost:5000' })
formatModelName(name) // 'localhost:5000/Team/Coder:Q4'
displayModelName(name, { defaultRegistry: 'localhost:5000' }) // 'Team/Coder:Q4'
repositoryOf(name) // 'team/coder': OCI repositories are lowercase
sameModelName(name, parseModelName('localhost:5000/team/coder:q4')) // true: names ignore ASCII case
