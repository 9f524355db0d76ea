// Express 4, installed as `express4` (npm alias) so the handler is tested on both majors.
declare module 'express4' {
  import express from 'express'
  export default express
}
